/**
 * Volumes on a block domain that is a pool's master, through a real node process on a loop-device
 * LUN (block-support.ts), data path without device-mapper:
 * - the pool's master area is the `master` LV's file system, mounted by the SPM; dom_md links to
 *   the special LVs' devices (host ids, SPM lease, mailbox work as on a file master);
 * - a thin (COW SPARSE) volume is an LV named by its UUID with IU_/PU_/MD_ tags, starting at one
 *   chunk, its metadata in its slot; prepareImage gives a block device QEMU's tools read and write;
 *   a snapshot keeps the data; deleteVolume/deleteImage remove the LVs and clear the slots;
 * - a VM writing into a thin disk: the node arms QMP write thresholds, the LV is extended in steps
 *   by the SPM (this host) while the guest runs, a guest that outruns it is resumed after ENOSPC;
 *   the guest's writes all land and the image checks clean;
 * - RAW SPARSE on block is refused and leaves the VG unchanged; a failed createStorageDomain
 *   leaves no VG behind;
 * - live disk extension of a running VM's thin and raw disks (the guest sees the new size), then a
 *   live snapshot of its thin disk onto a new thin top LV.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { LunSet } from "./block-support.js";
import { type NodeProc, waitTask } from "./harness.js";
import { guestVm, startVirtNode, stopWithVms, vmStats, waitConsole, waitFor } from "./virt-support.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const CHUNK_MIB = 256;
type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

let node: NodeProc;
const luns = new LunSet();
const sd = randomUUID();
const sp = randomUUID();

async function ok(r: Resp | Promise<Resp>, what: string): Promise<Resp> {
  const res = await r;
  assert.equal(res.status.code, 0, `${what}: ${res.status.message}\n${node.output().slice(-2000)}`);
  return res;
}
async function task(r: Resp | Promise<Resp>, what: string): Promise<void> {
  const st = await waitTask(node, (await ok(r, what)).uuid as string);
  assert.equal(st.taskResult, "success", `${what}: ${st.message}`);
}
function lv(name: string, field: string): string {
  return luns.lvm("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", field, `${sd}/${name}`).trim();
}
function lvNames(): string[] {
  return luns.lvm("lvs", "--noheadings", "-o", "lv_name", sd).split("\n").map((s) => s.trim()).filter(Boolean).sort();
}
function createVolume(img: string, vol: string, size: number, format: number, prealloc: number, parent = BLANK): Promise<Resp> {
  return node.xml("createVolume", sd, sp, img, size, format, prealloc, "DATA", vol, "", parent === BLANK ? BLANK : img, parent);
}

before(async () => {
  luns.add("lun", 12 * GiB);
  node = await startVirtNode({ env: { VELA_LOG_LEVEL: "info", VELA_NODE_LUN_DIRS: luns.dir, VELA_NODE_BLOCK_PATH: "loop", VELA_NODE_THIN_CHUNK_MIB: String(CHUNK_MIB) } });
  const guid = ((await ok(node.xml("getDeviceList"), "getDeviceList")).devList as { GUID: string }[])[0]!.GUID;
  const vgUUID = (await ok(node.xml("createVG", sd, [guid], false), "createVG")).uuid as string;
  await ok(node.xml("createStorageDomain", 3, sd, "block master", vgUUID, 1, 5), "createStorageDomain");
  await ok(node.xml("createStoragePool", 0, sp, "block pool", sd, [sd], 1), "createStoragePool");
  await ok(node.xml("connectStoragePool", sp, 1, "", sd, 1), "connectStoragePool");
  await task(node.xml("spmStart", sp, -1, "-1", 0, false), "spmStart");
});

after(async () => {
  await stopWithVms(node);
  luns.cleanup();
});

test("a block domain is the pool's master: master LV mounted by the SPM, dom_md links to the special LVs", async () => {
  const dom = join(node.runDir, "blockSD", sd);
  const mounts = readFileSync("/proc/self/mounts", "utf8");
  assert.ok(mounts.split("\n").some((l) => l.split(" ")[1] === join(dom, "master")), `master not mounted:\n${mounts}`);
  assert.ok(statSync(join(dom, "master", "tasks")).isDirectory());
  for (const f of ["ids", "inbox", "outbox", "leases", "metadata"]) {
    assert.match(readlinkSync(join(dom, "dom_md", f)), /^\/dev\/loop\d+$/, `${f} is a device link`);
  }
  const tags = luns.lvm("vgs", "--noheadings", "-o", "vg_tags", sd);
  assert.match(tags, /MDT_ROLE=Master/);
  assert.match(tags, new RegExp(`MDT_POOL_UUID=${sp}`));
  const st = (await ok(node.xml("getSpmStatus", sp), "getSpmStatus")).spm_st as { spmStatus: string };
  assert.equal(st.spmStatus, "SPM");
});

test("a thin volume is an LV of one chunk with IU_/PU_/MD_ tags; prepared, written, snapshotted, deleted", async () => {
  const img = randomUUID();
  const base = randomUUID();
  await task(createVolume(img, base, 2 * GiB, 4, 2), "createVolume thin");
  assert.equal(Number(lv(base, "lv_size")), CHUNK_MIB * MiB, "a thin LV starts at one chunk");
  const tags = lv(base, "lv_tags").split(",");
  assert.ok(tags.includes(`IU_${img}`) && tags.includes(`PU_${BLANK}`) && tags.some((t) => /^MD_\d+$/.test(t)), tags.join(","));
  assert.ok(!tags.includes("OVIRT_VOL_INITIALIZING"), "the create finished");
  const info = (await ok(node.xml("getVolumeInfo", sd, sp, img, base), "getVolumeInfo")).info as Record<string, string>;
  assert.equal(info.legality, "LEGAL");
  assert.equal(info.format, "COW");
  assert.equal(info.capacity, String(2 * GiB));
  assert.equal(info.apparentsize, String(CHUNK_MIB * MiB));

  const loopsBefore = luns.rangeLoops().sort();
  const prep = await ok(node.xml("prepareImage", sd, sp, img, base), "prepareImage");
  const path = prep.path as string;
  assert.ok(statSync(path).isBlockDevice(), `${path} is a block device`);
  execFileSync("qemu-io", ["-f", "qcow2", "-c", `write -P 0x5a 0 ${4 * MiB}`, path]);
  await ok(node.xml("teardownImage", sd, sp, img, base), "teardownImage");
  assert.deepEqual(luns.rangeLoops().sort(), loopsBefore, "no loop device left for the volume");

  const top = randomUUID();
  await task(createVolume(img, top, 2 * GiB, 4, 2, base), "snapshot");
  const baseMd = (await ok(node.xml("getVolumeInfo", sd, sp, img, base), "getVolumeInfo base")).info as Record<string, string>;
  assert.equal(baseMd.voltype, "INTERNAL");
  assert.equal(lv(top, "lv_tags").split(",").includes(`PU_${base}`), true);
  const p2 = (await ok(node.xml("prepareImage", sd, sp, img, top), "prepareImage top")).path as string;
  const out = execFileSync("qemu-io", ["-r", "-f", "qcow2", "-c", `read -P 0x5a 0 ${4 * MiB}`, p2], { encoding: "utf8" });
  assert.doesNotMatch(out, /Pattern verification failed/, "the snapshot reads the base's data");
  execFileSync("qemu-img", ["check", "-q", p2]);
  await ok(node.xml("teardownImage", sd, sp, img, top), "teardownImage top");

  await task(node.xml("deleteVolume", sd, sp, img, [top], false), "deleteVolume");
  assert.ok(!lvNames().includes(top));
  const again = (await ok(node.xml("getVolumeInfo", sd, sp, img, base), "getVolumeInfo base")).info as Record<string, string>;
  assert.equal(again.voltype, "LEAF", "the base is the leaf again");
  await task(node.xml("deleteImage", sd, sp, img, false, false), "deleteImage");
  assert.deepEqual(lvNames(), ["ids", "inbox", "leases", "master", "metadata", "outbox", "xleases"]);
});

test("a preallocated raw volume holds its capacity; RAW SPARSE on block is refused and changes nothing", async () => {
  const img = randomUUID();
  const vol = randomUUID();
  await task(createVolume(img, vol, 300 * MiB, 5, 1), "createVolume raw");
  assert.equal(Number(lv(vol, "lv_size")), 384 * MiB, "whole extents of 128 MiB holding 300 MiB");
  const before = lvNames();
  const bad = await createVolume(randomUUID(), randomUUID(), GiB, 5, 2);
  assert.notEqual(bad.status.code, 0, "RAW SPARSE refused");
  assert.match(bad.status.message, /RAW SPARSE/);
  assert.deepEqual(lvNames(), before);
  await task(node.xml("deleteImage", sd, sp, img, false, false), "deleteImage raw");
});

test("a VM writing 700 MiB into a thin disk: the LV grows in steps while it runs, the image stays clean", async () => {
  const img = randomUUID();
  const vol = randomUUID();
  await task(createVolume(img, vol, GiB, 4, 2), "createVolume thin");
  const s0 = Number(lv(vol, "lv_size"));
  assert.equal(s0, CHUNK_MIB * MiB);
  const vmId = randomUUID();
  const drive = { poolID: sp, domainID: sd, imageID: img, volumeID: vol, iface: "virtio" };
  await node.json("VM.create", { vmParams: guestVm(vmId, { args: "vela.disk=vda vela.wsrc=pattern vela.write=700 vela.poweroff", drives: [drive], display: "none" }) });
  const sizes = new Set<number>([s0]);
  const watch = setInterval(() => {
    try {
      sizes.add(Number(lv(vol, "lv_size")));
    } catch {
      // the LV is being changed: next poll
    }
  }, 500);
  try {
    await waitConsole(node.runDir, vmId, "GUEST-WRITE-DONE", 300_000);
  } finally {
    clearInterval(watch);
  }
  const end = Number(lv(vol, "lv_size"));
  sizes.add(end);
  assert.ok(end >= 700 * MiB, `LV ${end} bytes after the guest wrote 700 MiB (two extensions at least)`);
  assert.ok(sizes.size >= 3, `the LV grew in steps: ${[...sizes].join(" → ")}`);
  const log = node.output();
  assert.match(log, /watching thin drives/);
  assert.match(log, /thin volume extended/);
  const stats = ((await node.json("VM.getStats", { vmID: vmId })) as Record<string, string>[])[0]!;
  assert.ok(Number(stats.thinExtensions) >= 2, `extensions counted: ${JSON.stringify(stats)}`);
  assert.match(stats.enospcPauses ?? "", /^\d+$/, "ENOSPC pauses are counted");
  await waitFor("VM down after poweroff", async () => ((await node.json("VM.getStats", { vmID: vmId })) as { status: string }[])[0]?.status === "Down" || undefined, 60_000);
  await node.json("VM.destroy", { vmID: vmId });
  const p = (await ok(node.xml("prepareImage", sd, sp, img, vol), "prepareImage")).path as string;
  execFileSync("qemu-img", ["check", "-q", p]);
  const out = execFileSync("qemu-io", ["-r", "-f", "qcow2", "-c", `read -v ${699 * MiB} 512`, p], { encoding: "utf8" });
  assert.doesNotMatch(out, /^[0-9a-f]+: {2}00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00/m, "the last MiB the guest wrote is there");
  await ok(node.xml("teardownImage", sd, sp, img, vol), "teardownImage");
});

test("live disk extension: a running VM's thin and raw disks on block grow (SPM extendVolumeSize live, then VM.diskSizeExtend); the guest sees it; shrinking and bad sizes are refused, nothing changed; then a live snapshot onto a new thin top LV", async () => {
  const thin = { img: randomUUID(), vol: randomUUID() };
  const raw = { img: randomUUID(), vol: randomUUID() };
  await task(createVolume(thin.img, thin.vol, GiB, 4, 2), "createVolume thin");
  await task(createVolume(raw.img, raw.vol, 256 * MiB, 5, 1), "createVolume raw");
  const vmId = randomUUID();
  const drive = (v: { img: string; vol: string }) => ({ poolID: sp, domainID: sd, imageID: v.img, volumeID: v.vol, iface: "virtio" });
  // loglevel=7: the guest kernel prints virtio-blk's capacity change on the console.
  await node.json("VM.create", { vmParams: guestVm(vmId, { args: "loglevel=7", drives: [drive(thin), drive(raw)], display: "none" }) });
  try {
    await waitConsole(node.runDir, vmId, "GUEST-UP", 300_000);
    const extend = async (v: { img: string; vol: string }, bytes: number) => {
      await task(node.xml("extendVolumeSize", sp, sd, v.img, v.vol, String(bytes), true), "extendVolumeSize live");
      return node.json("VM.diskSizeExtend", { vmID: vmId, driveSpecs: { poolID: sp, domainID: sd, imageID: v.img, volumeID: v.vol }, newSize: bytes });
    };
    const capacity = async (v: { img: string; vol: string }) => Number(((await ok(node.xml("getVolumeInfo", sd, sp, v.img, v.vol), "getVolumeInfo")).info as { capacity: string }).capacity);

    // Thin qcow2: the virtual size grows, the LV keeps its size (it grows as the guest writes;
    // the node gave the fresh drive its first extension, to two chunks, before the guest ran).
    const thinLv = Number(lv(thin.vol, "lv_size"));
    assert.equal(thinLv, 2 * CHUNK_MIB * MiB, "a fresh thin drive is extended once before the guest runs");
    assert.equal(await extend(thin, 2 * GiB), String(2 * GiB));
    assert.equal(await capacity(thin), 2 * GiB, "the volume's capacity in its metadata");
    assert.equal(Number(lv(thin.vol, "lv_size")), thinLv, "the thin LV keeps its size");
    await waitConsole(node.runDir, vmId, "vda: detected capacity change from 2097152 to 4194304", 60_000);

    // Raw: the LV grows to the new size first (in place), the host's device follows, then QEMU.
    assert.equal(await extend(raw, 512 * MiB), String(512 * MiB));
    assert.equal(Number(lv(raw.vol, "lv_size")), 512 * MiB, "the raw LV holds the new size");
    assert.equal(lv(raw.vol, "seg_count"), "1");
    await waitConsole(node.runDir, vmId, "vdb: detected capacity change from 524288 to 1048576", 60_000);

    // Bad sizes: refused by the node, the drive and the volume unchanged.
    const spec = { poolID: sp, domainID: sd, imageID: thin.img, volumeID: thin.vol };
    await assert.rejects(node.json("VM.diskSizeExtend", { vmID: vmId, driveSpecs: spec, newSize: GiB }), /VolumeResizeValueError|smaller/, "a shrink");
    for (const bad of [GiB + 1, 2 ** 51, -512, "12x", 1.5]) {
      await assert.rejects(node.json("VM.diskSizeExtend", { vmID: vmId, driveSpecs: spec, newSize: bad }), /size|integer|InvalidParameter|Invalid/i, `size ${bad}`);
    }
    await assert.rejects(node.json("VM.diskSizeExtend", { vmID: vmId, driveSpecs: { ...spec, volumeID: randomUUID() }, newSize: 4 * GiB }), /no drive/, "a volume the VM does not use");
    assert.equal(await node.json("VM.diskSizeExtend", { vmID: vmId, driveSpecs: spec, newSize: 2 * GiB }), String(2 * GiB), "the same size: unchanged");
    const shrink = await node.xml("extendVolumeSize", sp, sd, thin.img, thin.vol, String(GiB), true);
    assert.notEqual((shrink as Resp).status.code, 0, "the SPM refuses a smaller capacity");
    assert.equal(await capacity(thin), 2 * GiB);

    // Live snapshot of the thin disk: a new thin top LV on the thin volume, the VM switched to it
    // while it runs, the old top INTERNAL, and the thin-drive watch following the new top.
    const top = randomUUID();
    await task(createVolume(thin.img, top, 2 * GiB, 4, 2, thin.vol), "createVolume snapshot top");
    const tags = lv(top, "lv_tags").split(",");
    assert.ok(tags.includes(`IU_${thin.img}`) && tags.includes(`PU_${thin.vol}`) && tags.some((t) => /^MD_\d+$/.test(t)) && tags.length === 3, `the new top's tags: ${tags}`);
    const snapped = await node.json("VM.snapshot", { vmID: vmId, snapDrives: [{ domainID: sd, imageID: thin.img, volumeID: top, baseVolumeID: thin.vol }] });
    assert.equal(snapped, true);
    const st = await vmStats(node, vmId);
    assert.equal(st.status, "Up", JSON.stringify(st));
    assert.equal((st.disks as Record<string, { volumeID: string }>).vda?.volumeID, top, "the VM writes into the new top");
    const base = (await ok(node.xml("getVolumeInfo", sd, sp, thin.img, thin.vol), "getVolumeInfo base")).info as { voltype: string; legality: string };
    assert.deepEqual([base.voltype, base.legality], ["INTERNAL", "LEGAL"], "the old top is the new one's parent");
    await waitFor("the thin watch on the new top", () => node.output().split("\n").some((l) => l.includes('"msg":"watching thin drives"') && l.includes(top)) || undefined, 30_000, 200);
  } finally {
    await node.json("VM.destroy", { vmID: vmId }).catch(() => {});
  }
  for (const v of [thin, raw]) await task(node.xml("deleteImage", sd, sp, v.img, false, false), "deleteImage");
});
