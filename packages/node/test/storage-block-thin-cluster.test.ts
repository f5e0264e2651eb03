/**
 * Thin provisioning on a block domain shared by three real node processes (one loop-device LUN
 * all of them see, data path without device-mapper, self-elected SPM, lease 10 s):
 * - a VM on a host that is not the SPM writes into a thin disk: each extension goes through the
 *   pool mailbox (`xtnd` in the host's inbox block, handled by the SPM's monitor, answered in the
 *   outbox), the host refreshes its device and re-arms the threshold; the LV grows in steps, the
 *   first one before the guest runs, and the guest never pauses on ENOSPC;
 * - two hosts asking to extend the same volume at once: both answered, the LV one segment of the
 *   larger size, the checker clean;
 * - a full VG: the guest pauses on ENOSPC and stays paused (no resume/pause cycling) with the
 *   reason in its stats; once room is made the node extends and resumes it by itself;
 * - kill -9 of the SPM while a guest writes: the requests are answered by the next SPM (re-sent
 *   when the SPM changes), a guest that paused is resumed, every byte the guest wrote is there,
 *   the image and the domain check clean.
 * Host 3 (SPM priority 0) runs the VMs and never becomes SPM by itself.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { createLogger } from "../src/log.js";
import { checkBlockDomain } from "../src/storage/block/check.js";
import { LoopDataPath } from "../src/storage/block/datapath.js";
import { Lvm } from "../src/storage/block/lvm.js";
import { BlockDomain } from "../src/storage/domain/block.js";
import { LunSet } from "./block-support.js";
import { type NodeProc, waitTask } from "./harness.js";
import { guestVm, startVirtNode, stopWithVms, vmStats, waitConsole, waitFor } from "./virt-support.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const CHUNK_MIB = 256;
type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

const luns = new LunSet();
const sd = randomUUID();
const sp = randomUUID();
/** hosts[0] is host id 1 (first SPM), hosts[1] host id 2 (next SPM), hosts[2] host id 3 (runs the VMs). */
const hosts: NodeProc[] = [];
const alive = [true, true, true];

function tail(n: NodeProc): string {
  return n.output().slice(-3000);
}
async function ok(n: NodeProc, r: Resp | Promise<Resp>, what: string): Promise<Resp> {
  const res = await r;
  assert.equal(res.status.code, 0, `${what}: ${res.status.message}\n${tail(n)}`);
  return res;
}
async function task(n: NodeProc, r: Resp | Promise<Resp>, what: string): Promise<void> {
  const st = await waitTask(n, (await ok(n, r, what)).uuid as string, 180_000);
  assert.equal(st.taskResult, "success", `${what}: ${st.message}`);
}
function lv(name: string, field: string): string {
  return luns.lvm("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", field, `${sd}/${name}`).trim();
}
function lvSize(name: string): number {
  return Number(lv(name, "lv_size"));
}
/** Log lines (pino JSON) of a node with this message. */
function logLines(n: NodeProc, msg: string): Record<string, unknown>[] {
  return n
    .output()
    .split("\n")
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
async function spmHost(): Promise<number> {
  for (let i = 0; i < hosts.length; i++) {
    if (!alive[i]) continue;
    const st = (await hosts[i]!.json("StoragePool.getSpmStatus", { storagepoolID: sp }).catch(() => undefined)) as { spmStatus: string } | undefined;
    if (st?.spmStatus === "SPM") return i;
  }
  return -1;
}
/** The SPM's node (index into hosts) once exactly that one says so. */
function waitSpm(timeoutMs: number, not = -1): Promise<number> {
  return waitFor(`an SPM other than host ${not + 1}`, async () => {
    const i = await spmHost();
    return i >= 0 && i !== not ? i : undefined;
  }, timeoutMs, 200);
}
async function thinVolume(spm: NodeProc, capacity: number): Promise<{ img: string; vol: string }> {
  const img = randomUUID();
  const vol = randomUUID();
  await task(spm, spm.xml("createVolume", sd, sp, img, capacity, 4, 2, "DATA", vol, "", BLANK, BLANK), "createVolume thin");
  return { img, vol };
}
/** A VM on host 3 whose guest writes `mib` MiB of its pattern into the thin volume. */
async function writerVm(v: { img: string; vol: string }, mib: number): Promise<string> {
  const vmId = randomUUID();
  const drive = { poolID: sp, domainID: sd, imageID: v.img, volumeID: v.vol, iface: "virtio" };
  await hosts[2]!.json("VM.create", { vmParams: guestVm(vmId, { args: `vela.disk=vda vela.wsrc=pattern vela.write=${mib} vela.poweroff`, drives: [drive], display: "none" }) });
  return vmId;
}
async function endVm(vmId: string): Promise<void> {
  await hosts[2]!.json("VM.destroy", { vmID: vmId }).catch(() => {});
}
/** qemu-img check clean and the last MiB the guest wrote is not zeroes (read on host 3). */
async function checkImage(v: { img: string; vol: string }, mib: number): Promise<void> {
  const n = hosts[2]!;
  const p = (await ok(n, n.xml("prepareImage", sd, sp, v.img, v.vol), "prepareImage")).path as string;
  try {
    execFileSync("qemu-img", ["check", "-q", p]);
    const out = execFileSync("qemu-io", ["-r", "-f", "qcow2", "-c", `read -v ${(mib - 1) * MiB} 512`, p], { encoding: "utf8" });
    assert.doesNotMatch(out, /^[0-9a-f]+: {2}00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00/m, "the last MiB the guest wrote is there");
  } finally {
    await ok(n, n.xml("teardownImage", sd, sp, v.img, v.vol), "teardownImage");
  }
}
/** The on-disk checker, run in this process over the shared LUN. */
async function domainProblems(): Promise<string[]> {
  const log = createLogger("thin-cluster-check");
  const lvm = new Lvm(log, async () => luns.luns.map((l) => l.device), false);
  const root = mkdtempSync(join(tmpdir(), "vela-thin-check-"));
  const dom = new BlockDomain(sd, { lvm, dataPath: new LoopDataPath(log), root, log });
  return (await checkBlockDomain(dom)).problems;
}
function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "");
  for (const m of mounts.filter((x) => x.startsWith(`${dir}/`))) {
    try {
      execFileSync("umount", ["-l", m]);
    } catch {
      // already gone
    }
  }
}

before(async () => {
  luns.add("lun", 12 * GiB);
  const env = (prio: number) => ({
    VELA_LOG_LEVEL: "info",
    VELA_NODE_LUN_DIRS: luns.dir,
    VELA_NODE_BLOCK_PATH: "loop",
    VELA_NODE_THIN_CHUNK_MIB: String(CHUNK_MIB),
    VELA_NODE_SPM_AUTO: "1",
    VELA_NODE_SPM_PRIORITY: String(prio),
  });
  hosts.push(...(await Promise.all([10, 5, 0].map((p) => startVirtNode({ env: env(p) })))));
  const h1 = hosts[0]!;
  const guid = ((await ok(h1, h1.xml("getDeviceList"), "getDeviceList")).devList as { GUID: string }[])[0]!.GUID;
  const vgUUID = (await ok(h1, h1.xml("createVG", sd, [guid], false), "createVG")).uuid as string;
  await ok(h1, h1.xml("createStorageDomain", 3, sd, "thin cluster", vgUUID, 1, 5), "createStorageDomain");
  // A 10 s lease (renew 2 s, I/O timeout 1 s) so a takeover after kill -9 takes seconds, not minutes.
  await ok(h1, h1.xml("createStoragePool", 0, sp, "thin pool", sd, [sd], 1, "", 2, 10, 1, 3), "createStoragePool");
  for (let i = 0; i < hosts.length; i++) await ok(hosts[i]!, hosts[i]!.xml("connectStoragePool", sp, i + 1, "", sd, 1), `connectStoragePool host ${i + 1}`);
  assert.equal(await waitSpm(90_000), 0, "host 1 (highest priority) is the first SPM");
});

after(async () => {
  for (let i = 0; i < hosts.length; i++) {
    if (alive[i]) await stopWithVms(hosts[i]).catch(() => {});
    else await hosts[i]!.kill().catch(() => {});
  }
  // A killed SPM leaves its master LV mounted under its run directory.
  for (const h of hosts) unmountUnder(h.runDir);
  luns.cleanup();
});

/** ENOSPC pauses of the first test's guest (none: the test after it). */
let firstPauses = -1;
let firstTimes = "";

test("a VM on a host that is not the SPM: its thin LV is extended through the mailbox in steps", async () => {
  const v = await thinVolume(hosts[0]!, GiB);
  const s0 = lvSize(v.vol);
  assert.equal(s0, CHUNK_MIB * MiB, "a thin LV starts at one chunk");
  const handledBefore = logLines(hosts[0]!, "extend request handled").length;
  const vmId = await writerVm(v, 600);
  // The node extends a fresh thin drive once before the guest's first instruction.
  const early = await waitFor("the first extension before the guest runs", () => logLines(hosts[2]!, "thin drives extended before the guest runs").find((l) => l.vmId === vmId), 120_000, 200);
  assert.ok(JSON.stringify(early.drives).includes(`"allocated":${2 * CHUNK_MIB * MiB}`), `two chunks before the guest ran: ${JSON.stringify(early)}`);
  const sizes = new Set<number>([s0]);
  const watch = setInterval(() => {
    try {
      sizes.add(lvSize(v.vol));
    } catch {
      // the LV is being changed: next poll
    }
  }, 300);
  try {
    await waitConsole(hosts[2]!.runDir, vmId, "GUEST-WRITE-DONE", 400_000);
  } finally {
    clearInterval(watch);
  }
  sizes.add(lvSize(v.vol));
  const stats = await vmStats(hosts[2]!, vmId);
  await endVm(vmId);
  assert.ok(lvSize(v.vol) >= 600 * MiB, `LV ${lvSize(v.vol)} bytes after the guest wrote 600 MiB`);
  assert.ok(sizes.size >= 3, `the LV grew in steps: ${[...sizes].map((s) => s / MiB).join(" → ")} MiB`);
  // The SPM (host 1) handled host 3's requests; host 3 extended only through the mailbox.
  const handled = logLines(hosts[0]!, "extend request handled").slice(handledBefore).filter((l) => l.hostID === 3 && l.volUUID === v.vol);
  assert.ok(handled.length >= 2, `the SPM handled ${handled.length} xtnd requests from host 3:\n${tail(hosts[0]!)}`);
  const ext = logLines(hosts[2]!, "thin volume extended").filter((l) => l.volUUID === v.vol);
  assert.ok(ext.length >= 2 && ext.every((l) => l.spm === false && l.via === "mailbox"), `host 3 extended through the mailbox: ${JSON.stringify(ext)}`);
  assert.equal(logLines(hosts[2]!, "extend request handled").length, 0, "host 3 never acted as SPM");
  const ms = logLines(hosts[2]!, "thin drive extended and re-armed").map((l) => l.ms);
  const spmParts = (h: Record<string, unknown> | undefined) => (h ? `SPM ${h.ms}: lock ${h.lockMs} slot ${h.slotMs} view ${h.viewMs} lvextend ${h.lvextendMs} grow ${h.refreshMs}` : "SPM ?");
  const parts = ext.map((l) => `lookup ${l.lookupMs} + mailbox/SPM ${l.grantMs} (${spmParts(handled.find((h) => h.sizeMiB === l.askedMiB))}) + refresh ${l.refreshMs} ms`);
  console.log(`thin-cluster: parts ${parts.join("; ")}`);
  console.log(`thin-cluster: ${ext.length} extensions through the mailbox, event → re-armed ${ms.join(", ")} ms; LV ${[...sizes].map((x) => x / MiB).join(" → ")} MiB; load ${readFileSync("/proc/loadavg", "utf8").trim()}`);
  // The guest finished its writes: any pause was resumed by the node.
  firstPauses = Number(stats.enospcPauses);
  firstTimes = `extensions took ${ms.join(", ")} ms (${parts.join("; ")})`;
  assert.ok(Number(stats.thinExtensions) >= 2, `extensions counted: ${JSON.stringify(stats)}`);
  await checkImage(v, 600);
  assert.deepEqual(await domainProblems(), []);
});

test("no ENOSPC pause while the guest of the first test wrote: its first extension came before it ran", () => {
  assert.equal(firstPauses, 0, `${firstPauses} pause(s) (-1: the first test did not finish); ${firstTimes}`);
});

test("two hosts asking to extend the same volume at once: both answered, one segment of the larger size", async () => {
  const v = await thinVolume(hosts[0]!, 2 * GiB);
  const ask = (i: number, mib: number) =>
    hosts[i]!.json("StoragePool.mailboxRequest", { storagepoolID: sp, op: "xtnd", storagedomainID: sd, volumeID: v.vol, sizeMiB: mib, timeoutMs: 60_000 }) as Promise<{ op: string; sizeMiB: number }>;
  const [a, b] = await Promise.all([ask(1, 768), ask(2, 1024)]);
  assert.equal(a.sizeMiB, 768, `host 2's request granted: ${JSON.stringify(a)}`);
  assert.equal(b.sizeMiB, 1024, `host 3's request granted: ${JSON.stringify(b)}`);
  assert.equal(lvSize(v.vol), 1024 * MiB);
  assert.equal(lv(v.vol, "seg_count"), "1", "still one segment");
  // An older, smaller request arriving late never shrinks the LV.
  const late = await ask(1, 512);
  assert.ok(late.sizeMiB >= 512, JSON.stringify(late));
  assert.equal(lvSize(v.vol), 1024 * MiB);
  assert.deepEqual(await domainProblems(), []);
});

test("a full VG: the guest pauses on ENOSPC and stays paused with the reason; room made, it is resumed", async () => {
  const spm = hosts[0]!;
  const v = await thinVolume(spm, GiB);
  // Fill every free extent with preallocated volumes, largest gap first (each fills its gap).
  const fillers: { img: string; vol: string }[] = [];
  for (;;) {
    const segs = luns
      .lvm("pvs", "--noheadings", "--segments", "--units", "b", "--nosuffix", "-o", "pvseg_size,lv_name,vg_extent_size", "--select", `vg_name=${sd}`)
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length === 2)
      .map((f) => Number(f[0]) * Number(f[1]));
    if (!segs.length) break;
    const f = { img: randomUUID(), vol: randomUUID() };
    await task(spm, spm.xml("createVolume", sd, sp, f.img, Math.max(...segs), 5, 1, "DATA", f.vol, "filler", BLANK, BLANK), "createVolume filler");
    fillers.push(f);
  }
  assert.equal(Number(luns.lvm("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_free", sd).trim()), 0, "the VG is full");
  const vmId = await writerVm(v, 600);
  const paused = await waitFor("the guest paused on ENOSPC", async () => {
    const s = await vmStats(hosts[2]!, vmId);
    // The reason arrives with the SPM's refusal (the pause may come first).
    return s.status === "Paused" && s.pauseCode === "ENOSPC" && s.thinError ? s : undefined;
  }, 400_000, 500);
  assert.match(String(paused.thinError), /extents|VolumeGroupSizeError|grow|refused/, `a clear reason: ${JSON.stringify(paused)}`);
  // It stays paused: the node does not resume a guest whose drive got no room (no pause/resume cycle).
  const pausesThen = Number(paused.enospcPauses);
  await waitFor("two more safety-net checks", () => logLines(hosts[2]!, "thin volume extension failed").length >= 3 || undefined, 60_000, 500);
  const still = await vmStats(hosts[2]!, vmId);
  assert.equal(still.status, "Paused", JSON.stringify(still));
  assert.equal(Number(still.enospcPauses), pausesThen, `not resumed into another ENOSPC: ${JSON.stringify(still)}`);
  assert.deepEqual(await domainProblems(), [], "a full VG corrupts nothing");

  // Room again: the fillers go; the node's next check extends and resumes the guest.
  for (const f of fillers) await task(spm, spm.xml("deleteImage", sd, sp, f.img, false, false), "deleteImage filler");
  await waitConsole(hosts[2]!.runDir, vmId, "GUEST-WRITE-DONE", 400_000);
  await endVm(vmId);
  await checkImage(v, 600);
  assert.deepEqual(await domainProblems(), []);
});

test("kill -9 of the SPM while a guest writes: the next SPM answers, the guest resumes, nothing lost or corrupt", async () => {
  const v = await thinVolume(hosts[0]!, 2 * GiB);
  const mib = 1100;
  const vmId = await writerVm(v, mib);
  // Kill the SPM right after it handled its first request for this volume: later ones are in flight or to come.
  await waitFor("a first extension through the mailbox", () => logLines(hosts[0]!, "extend request handled").some((l) => l.volUUID === v.vol) || undefined, 400_000, 200);
  const t0 = Date.now();
  alive[0] = false;
  await hosts[0]!.kill("SIGKILL");
  const next = await waitSpm(120_000, 0);
  assert.equal(next, 1, "host 2 takes over (host 3 has priority 0)");
  const failoverMs = Date.now() - t0;
  await waitConsole(hosts[2]!.runDir, vmId, "GUEST-WRITE-DONE", 600_000);
  const stats = await vmStats(hosts[2]!, vmId);
  await endVm(vmId);
  const handledByNew = logLines(hosts[1]!, "extend request handled").filter((l) => l.hostID === 3 && l.volUUID === v.vol);
  assert.ok(handledByNew.length >= 1, `the new SPM handled host 3's requests:\n${tail(hosts[1]!)}`);
  assert.ok(lvSize(v.vol) >= mib * MiB, `LV ${lvSize(v.vol)} bytes after the guest wrote ${mib} MiB`);
  assert.equal(stats.status === "Paused", false, `the guest is not left paused: ${JSON.stringify(stats)}`);
  await checkImage(v, mib);
  assert.deepEqual(await domainProblems(), []);
  console.log(`thin-cluster: SPM killed -> host 2 SPM after ${failoverMs} ms; guest wrote ${mib} MiB with ${stats.enospcPauses} ENOSPC pause(s), ${stats.thinExtensions} extensions`);
});
