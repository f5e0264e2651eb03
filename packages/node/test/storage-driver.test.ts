/**
 * The storage-domain driver conformance suite: the same tests, through the StorageDomain
 * interface (domain/driver.ts), for every driver — file (a LOCALFS directory) and block (a VG on a
 * loop-device LUN, volumes mapped by the loop data path). Each driver must: seal its metadata and
 * keep the seal across updates, refuse a broken seal, claim a volume id once, keep a volume's
 * metadata, give qemu-img a path it can format, write and read (a snapshot's backing name
 * resolving beside it), and remove a volume completely. Block-only: thin LVs grow in place and
 * keep their data, the limit of growing in place, and VDSM's `IU__remove_me_` delete.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { VdsmError } from "@vela/protocol";
import { createLogger } from "../src/log.js";
import { checkBlockDomain } from "../src/storage/block/check.js";
import { DmDataPath, LoopDataPath } from "../src/storage/block/datapath.js";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { Lvm } from "../src/storage/block/lvm.js";
import { readVgStamp } from "../src/storage/block/vgstamp.js";
import { BlockDomain } from "../src/storage/domain/block.js";
import { SD_UNREADY_TAG } from "../src/storage/block/vgtags.js";
import type { StorageDomain } from "../src/storage/domain/driver.js";
import { FileDomain } from "../src/storage/domain/file.js";
import type { VolumeMd } from "../src/storage/metadata.js";
import { extendVolume } from "../src/storage/mailbox/pool-mailbox.js";
import { deleteBlockImageJob } from "../src/storage/block/volume.js";
import { Task } from "../src/storage/task/task.js";
import { LunSet } from "./block-support.js";

const BLANK = "00000000-0000-0000-0000-000000000000";
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const log = createLogger("driver-test");
log.level = "warn";

interface Fixture {
  dom: StorageDomain;
  /** Changes a key behind the driver's back, seal untouched. */
  tamper(): void;
  untamper(): void;
  /** The driver's on-disk checker: problems found (none for a clean domain). */
  check(): Promise<string[]>;
  close(): Promise<void>;
}

async function fileFixture(): Promise<Fixture> {
  const mnt = mkdtempSync(join(tmpdir(), "vela-drv-file-"));
  const dom = await FileDomain.create({ mountPoint: mnt, sdUUID: randomUUID(), name: "file dom", remotePath: mnt, type: "LOCALFS", domClass: "Data", version: 5, blockSize: 512 });
  let saved = "";
  return {
    dom,
    tamper() {
      saved = readFileSync(dom.mdPath, "utf8");
      writeFileSync(dom.mdPath, saved.replace(/^DESCRIPTION=.*$/m, "DESCRIPTION=evil"));
    },
    untamper() {
      writeFileSync(dom.mdPath, saved);
    },
    async check() {
      return (await checkFileDomain(dom.dir)).problems;
    },
    async close() {
      rmSync(mnt, { recursive: true, force: true });
    },
  };
}

async function blockFixture(): Promise<Fixture> {
  const luns = new LunSet();
  try {
    const lun = luns.add("lun", 8 * GiB);
    const lvm = new Lvm(log, async () => [lun.device], false);
    const sd = randomUUID();
    await lvm.pvcreate(lun.device);
    await lvm.vgcreate(sd, lun.device, SD_UNREADY_TAG);
    const vg = (await lvm.vg(sd))!;
    const root = mkdtempSync(join(tmpdir(), "vela-drv-blocksd-"));
    const dom = await BlockDomain.create(
      { lvm, dataPath: new LoopDataPath(log), root, log },
      { sdUUID: sd, vgUUID: vg.uuid, name: "block dom", type: "ISCSI", domClass: "Data", version: 5, blockSize: 512, guidOf: () => "velatest" },
    );
    let saved = "";
    return {
      dom,
      tamper() {
        saved = luns.lvm("vgs", "--noheadings", "-o", "vg_tags", sd).trim().split(",").find((t) => t.startsWith("MDT_DESCRIPTION="))!;
        luns.lvm("vgchange", "--deltag", saved, "--addtag", "MDT_DESCRIPTION=evil", sd);
      },
      untamper() {
        luns.lvm("vgchange", "--deltag", "MDT_DESCRIPTION=evil", "--addtag", saved, sd);
      },
      async check() {
        return (await checkBlockDomain(dom)).problems;
      },
      async close() {
        luns.cleanup();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    luns.cleanup();
    throw err;
  }
}

/** The same domain as another host's agent sees it: its own lvm runner, so its own VG view. */
function otherHost(dom: BlockDomain): BlockDomain {
  const devs = dom.view.devices() ?? [];
  return new BlockDomain(dom.sdUUID, { ...dom.env, lvm: new Lvm(log, async () => devs, false) });
}

function volMd(sd: string, img: string, parent: string, voltype: VolumeMd["VOLTYPE"] = "LEAF"): VolumeMd {
  return { CAP: 256 * MiB, CTIME: 1700000000, DESCRIPTION: "conformance", DISKTYPE: "DATA", DOMAIN: sd, FORMAT: "COW", GEN: 0, IMAGE: img, LEGALITY: "LEGAL", PUUID: parent, SEQ: 0, TYPE: "SPARSE", VOLTYPE: voltype };
}

function qemuIo(path: string, cmd: string): string {
  return execFileSync("qemu-io", ["-f", "qcow2", "-c", cmd, path], { encoding: "utf8" });
}

async function rejects(p: Promise<unknown>, errName: string, what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof VdsmError, `${what}: ${String(err)}`);
    assert.equal(err.errName, errName, `${what}: ${err.message}`);
    return true;
  });
}

const drivers: [string, () => Promise<Fixture>][] = [
  ["file", fileFixture],
  ["block", blockFixture],
];

for (const [name, make] of drivers) {
  describe(`driver ${name}`, () => {
    let fx: Fixture;
    const img = randomUUID();
    const base = randomUUID();
    const top = randomUUID();
    before(async () => {
      fx = await make();
    });
    after(async () => {
      await fx?.close();
    });

    test("metadata is sealed; updates keep the seal; null deletes a key", async () => {
      const md = await fx.dom.metadata();
      assert.equal(md.SDUUID, fx.dom.sdUUID);
      assert.equal(md.CLASS, "Data");
      assert.equal(md.VERSION, "5");
      await fx.dom.update({ DESCRIPTION: "renamed: café & co", POOL_UUID: BLANK.replace(/0/g, "1") });
      const md2 = await fx.dom.metadata({ fresh: true });
      assert.equal(md2.DESCRIPTION, "renamed: café & co");
      assert.equal(md2.POOL_UUID, BLANK.replace(/0/g, "1"));
      await fx.dom.update({ POOL_UUID: "", SCRATCH: "x" });
      assert.equal((await fx.dom.metadata({ fresh: true })).SCRATCH, "x");
      await fx.dom.update({ SCRATCH: null });
      const md3 = await fx.dom.metadata({ fresh: true });
      assert.equal(md3.SCRATCH, undefined);
      assert.equal(md3.POOL_UUID, "");
    });

    test("a metadata key changed behind the driver's back breaks the seal and is refused", async () => {
      fx.tamper();
      try {
        await rejects(fx.dom.metadata({ fresh: true }), "MetaDataSealIsBroken", "tampered metadata");
      } finally {
        fx.untamper();
      }
      assert.equal((await fx.dom.metadata({ fresh: true })).DESCRIPTION, "renamed: café & co");
    });

    test("a volume's id is claimed once; its metadata reads back as written; listings show it", async () => {
      await fx.dom.createVolumeArea(img, base, BLANK, 256 * MiB);
      await fx.dom.writeVolumeMeta(img, base, volMd(fx.dom.sdUUID, img, BLANK));
      assert.deepEqual(await fx.dom.readVolumeMeta(img, base), volMd(fx.dom.sdUUID, img, BLANK));
      await rejects(fx.dom.createVolumeArea(img, base, BLANK, 256 * MiB), "VolumeAlreadyExists", "second create");
      assert.deepEqual(await fx.dom.listImages(), [img]);
      assert.deepEqual(await fx.dom.listVolumes(img), [base]);
      assert.ok(await fx.dom.hasImage(img));
      assert.ok((await fx.dom.volumeAreaSize(img, base)) >= 256 * MiB);
      await rejects(fx.dom.readVolumeMeta(img, randomUUID()), "VolumeDoesNotExist", "unknown volume");
      await rejects(fx.dom.listVolumes(randomUUID()), "ImageDoesNotExistInSD", "unknown image");
    });

    test("prepareVolume gives qemu-img a path: a qcow2 base and a snapshot on it read the right bytes", async () => {
      const bp = await fx.dom.prepareVolume(img, base);
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", bp, String(256 * MiB)]);
      qemuIo(bp, `write -P 0x61 0 ${MiB}`);
      await fx.dom.createVolumeArea(img, top, base, 256 * MiB);
      await fx.dom.writeVolumeMeta(img, base, volMd(fx.dom.sdUUID, img, BLANK, "INTERNAL"));
      await fx.dom.writeVolumeMeta(img, top, volMd(fx.dom.sdUUID, img, base));
      const tp = await fx.dom.prepareVolume(img, top);
      // The backing name is the bare parent UUID, resolved in the image's directory (VDSM's way).
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", tp]);
      qemuIo(tp, `write -P 0x62 ${MiB} ${MiB}`);
      assert.doesNotMatch(qemuIo(tp, `read -P 0x61 0 ${MiB}`), /verification failed/);
      assert.doesNotMatch(qemuIo(tp, `read -P 0x62 ${MiB} ${MiB}`), /verification failed/);
      assert.doesNotMatch(qemuIo(bp, `read -P 0 ${MiB} ${MiB}`), /verification failed/, "the base is unchanged by the snapshot's write");
      execFileSync("qemu-img", ["check", "-q", "-f", "qcow2", tp]);
      await fx.dom.teardownVolume(img, top);
      await fx.dom.teardownVolume(img, base);
      assert.deepEqual(await fx.check(), [], "the on-disk checker finds the domain clean");
    });

    test("removing volumes: gone from listings and metadata; removing again is a no-op", async () => {
      await fx.dom.removeVolumeArea(img, top);
      assert.deepEqual(await fx.dom.listVolumes(img), [base]);
      await rejects(fx.dom.readVolumeMeta(img, top), "VolumeDoesNotExist", "removed volume");
      await fx.dom.removeVolumeArea(img, top);
      await fx.dom.removeVolumeArea(img, base);
      assert.deepEqual(await fx.dom.listImages(), []);
      assert.equal(await fx.dom.hasImage(img), false);
      assert.deepEqual(await fx.check(), [], "nothing left behind");
    });
  });
}

describe("block only: thin LVs and VDSM's delete", () => {
  let fx: Fixture;
  let dom: BlockDomain;
  const img = randomUUID();
  const a = randomUUID();
  const b = randomUUID();
  before(async () => {
    fx = await blockFixture();
    dom = fx.dom as BlockDomain;
  });
  after(async () => {
    await fx?.close();
  });

  test("a thin LV starts at one extent and grows in place, one segment, keeping its data", async () => {
    await dom.createVolumeArea(img, a, BLANK, MiB);
    await dom.writeVolumeMeta(img, a, volMd(dom.sdUUID, img, BLANK));
    assert.equal(await dom.volumeAreaSize(img, a), 128 * MiB, "one 128 MiB extent");
    const p = await dom.prepareVolume(img, a);
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", p, String(GiB)]);
    qemuIo(p, `write -P 0x71 0 ${64 * MiB}`);
    // Past the LV's end the device refuses the write (what a VM sees as ENOSPC).
    assert.throws(() => qemuIo(p, `write -P 0x72 ${200 * MiB} ${64 * MiB}`), /No space|Input\/output|error/i);
    // The device stays open across the extend, as a running VM holds it.
    const dev = readlink(p);
    const held = openSync(dev, "r");
    try {
      assert.equal(await dom.extendVolumeArea(img, a, 384 * MiB), 384 * MiB);
      assert.equal(await dom.volumeAreaSize(img, a), 384 * MiB);
      assert.equal((await dom.range(a)).count, 3, "still one segment of 3 extents");
      assert.equal(Number(execFileSync("blockdev", ["--getsize64", dev], { encoding: "utf8" })), 384 * MiB, "the open device grew in place");
    } finally {
      closeSync(held);
    }
    const p2 = await dom.prepareVolume(img, a);
    assert.equal(readlink(p2), dev, "the same device, not a new mapping");
    qemuIo(p2, `write -P 0x72 ${200 * MiB} ${64 * MiB}`);
    assert.doesNotMatch(qemuIo(p2, `read -P 0x71 0 ${64 * MiB}`), /verification failed/, "data written before the extend is intact");
    assert.doesNotMatch(qemuIo(p2, `read -P 0x72 ${200 * MiB} ${64 * MiB}`), /verification failed/);
    execFileSync("qemu-img", ["check", "-q", "-f", "qcow2", p2]);
    await dom.teardownVolume(img, a);
  });

  test("a new volume leaves room after its neighbour; growing into a neighbour is refused, nothing changed", async () => {
    await dom.createVolumeArea(img, b, BLANK, MiB);
    await dom.writeVolumeMeta(img, b, volMd(dom.sdUUID, img, BLANK));
    const ra = await dom.range(a);
    const rb = await dom.range(b);
    assert.ok(rb.first > ra.first + ra.count + 1, `b at extent ${rb.first} leaves room after a (${ra.first}+${ra.count})`);
    const tooFar = (rb.first - ra.first + 1) * 128 * MiB;
    await rejects(dom.extendVolumeArea(img, a, tooFar), "LogicalVolumeExtendError", "growing into b");
    assert.deepEqual(await dom.range(a), ra);
    assert.equal(await dom.extendVolumeArea(img, a, (rb.first - ra.first) * 128 * MiB), (rb.first - ra.first) * 128 * MiB, "up to b's first extent is fine");
  });

  test("VDSM's delete: IU__remove_me_ first; a volume caught between retag and lvremove is not listed and is finished by a new remove", async () => {
    // A crash after the retag: the tag is changed, the LV still there.
    const lvm = dom.lvm;
    await lvm.lvtags(dom.sdUUID, b, [`IU__remove_me_${img}`], [`IU_${img}`]);
    assert.deepEqual(await dom.listVolumes(img), [a], "the half-deleted volume is not listed");
    assert.ok((await fx.check()).some((p) => p.includes("interrupted delete")), "the checker reports the interrupted delete");
    const tags = (await lvm.lvs(dom.sdUUID)).find((l) => l.name === b)!.tags;
    assert.ok(tags.includes(`IU__remove_me_${img}`), tags.join(","));
    await dom.removeVolumeArea(`_remove_me_${img}`, b);
    assert.equal((await lvm.lvs(dom.sdUUID)).some((l) => l.name === b), false, "the LV is gone");
    await dom.removeVolumeArea(img, a);
    assert.deepEqual(await dom.listImages(), []);
    assert.deepEqual((await lvm.lvs(dom.sdUUID)).map((l) => l.name).sort(), ["ids", "inbox", "leases", "master", "metadata", "outbox", "xleases"]);
    assert.deepEqual(await fx.check(), []);
  });

  test("the SPM's extend for an xtnd request grows a block volume in place, capped at capacity × 1.1; refuses ILLEGAL and unknown volumes", async () => {
    const c = randomUUID();
    await dom.createVolumeArea(img, c, BLANK, MiB);
    await dom.writeVolumeMeta(img, c, volMd(dom.sdUUID, img, BLANK));
    assert.equal(await extendVolume(dom, c, 1024), Math.ceil(256 * 1.1), "granted up to CAP × 1.1 (CAP 256 MiB)");
    assert.equal(await dom.volumeAreaSize(img, c), 384 * MiB, "the LV in whole extents");
    assert.equal((await dom.range(c)).count, 3, "one segment");
    await dom.writeVolumeMeta(img, c, { ...volMd(dom.sdUUID, img, BLANK), LEGALITY: "ILLEGAL" });
    await rejects(extendVolume(dom, c, 200), "VolumeExtendingError", "an ILLEGAL volume");
    await rejects(extendVolume(dom, randomUUID(), 200), "VolumeDoesNotExist", "an unknown volume");
    await dom.removeVolumeArea(img, c);
  });

  test("the VG view: own writes cost no lvm report; a change by anyone else (another host's instance, a bare lvm) is seen by the next read", async () => {
    const seqno = () => Number(execFileSync("lvm", ["vgs", "--readonly", "--config", `devices{filter=["a|^${dom.view.devices()![0]}$|","r|.*|"] use_devicesfile=0}`, "--noheadings", "-o", "vg_seqno", dom.sdUUID], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1" } }).trim());
    // The stamp is the commit LVM made last.
    await dom.vg();
    assert.equal((await readVgStamp(dom.view.devices()![0]!))?.seqno, seqno(), "the stamp's seqno is lvm's");
    const c = randomUUID();
    const r0 = dom.view.counters.reports;
    await dom.createVolumeArea(img, c, BLANK, MiB);
    await dom.writeVolumeMeta(img, c, { ...volMd(dom.sdUUID, img, BLANK), CAP: 8 * GiB });
    assert.equal(await extendVolume(dom, c, 384), 384);
    await dom.setParentTag(img, c, BLANK);
    assert.ok((await dom.listVolumes(img)).includes(c));
    assert.equal(dom.view.counters.reports, r0, `lvcreate, lvchange and lvextend of this host applied in place, no lvm report: ${JSON.stringify(dom.view.counters)}`);
    assert.equal((await dom.range(c)).count, 3);
    // Another writer (another host's agent; here a second instance and a bare lvm command).
    const other = otherHost(dom);
    await other.extendVolumeArea(img, c, 512 * MiB);
    assert.equal((await dom.range(c)).count, 4, "a grow by another instance is seen");
    fx.tamper();
    await rejects(dom.metadata(), "MetaDataSealIsBroken", "VG tags changed by a bare lvm are seen at once");
    fx.untamper();
    assert.ok(await dom.metadata());
    assert.ok(dom.view.counters.reports > r0, "those reads re-read the VG");
    await dom.removeVolumeArea(img, c);
    assert.ok(!(await dom.volumeLvs()).some((l) => l.name === c));
    assert.deepEqual(await fx.check(), []);
  });

  test("the SPM's extend after another writer grew the LV: seen and grown right; a neighbour or the PV's end stop it clearly, the LV unchanged", async () => {
    const c = randomUUID();
    await dom.createVolumeArea(img, c, BLANK, MiB);
    await dom.writeVolumeMeta(img, c, { ...volMd(dom.sdUUID, img, BLANK), CAP: 8 * GiB });
    assert.equal(await extendVolume(dom, c, 256), 256);
    assert.equal((await dom.range(c)).count, 2);
    // Grown meanwhile by another path (another instance: this one's view is stale until it checks).
    const other = otherHost(dom);
    assert.equal(await other.extendVolumeArea(img, c, 512 * MiB), 512 * MiB);
    assert.equal(await extendVolume(dom, c, 640), 640, "grown by another instance: still grows the LV right");
    assert.equal((await dom.range(c)).count, 5, "five extents, one segment");
    assert.equal(await other.extendVolumeArea(img, c, 1024 * MiB), 1024 * MiB);
    assert.equal(await extendVolume(dom, c, 768), 768, "asked less than another instance grew it to: nothing to do");
    const rc = await dom.range(c);
    assert.equal(rc.count, 8, "eight extents, one segment");
    // A neighbour right behind: growing into it is refused and nothing changes.
    const d = randomUUID();
    const pv = rc.pv;
    const next = rc.first + rc.count;
    await dom.lvm.cmd(["lvcreate", "--activate", "n", "--zero", "n", "--wipesignatures", "n", "--extents", "1", "--name", d, "--addtag", `IU_${img}`, "--addtag", `PU_${BLANK}`, "--addtag", "MD_300", dom.sdUUID, `${pv}:${next}-${next}`]);
    await dom.writeVolumeMeta(img, d, volMd(dom.sdUUID, img, BLANK));
    await rejects(extendVolume(dom, c, 1152), "LogicalVolumeExtendError", "growing c (8 extents) into d");
    assert.deepEqual(await dom.range(c), rc, "c unchanged");
    // A volume on the PV's last extent cannot grow at all.
    const vg = await dom.vg();
    const e = randomUUID();
    const last = vg.extentCount - 1;
    await dom.lvm.cmd(["lvcreate", "--activate", "n", "--zero", "n", "--wipesignatures", "n", "--extents", "1", "--name", e, "--addtag", `IU_${img}`, "--addtag", `PU_${BLANK}`, "--addtag", "MD_301", dom.sdUUID, `${pv}:${last}-${last}`]);
    await dom.writeVolumeMeta(img, e, { ...volMd(dom.sdUUID, img, BLANK), CAP: 8 * GiB });
    await rejects(extendVolume(dom, e, 256), "VolumeGroupSizeError", "growing past the PV's end");
    assert.equal((await dom.range(e)).count, 1);
    for (const v of [c, d, e]) await dom.removeVolumeArea(img, v);
    assert.deepEqual(await fx.check(), []);
  });

  test("the device-mapper data path runs VDSM's lvchange command lines; without device-mapper it fails clearly", async () => {
    assert.deepEqual(DmDataPath.argv("activate", "vg", "lv"), ["lvchange", "--activate", "y", "vg/lv"]);
    assert.deepEqual(DmDataPath.argv("refresh", "vg", "lv"), ["lvchange", "--refresh", "vg/lv"]);
    assert.deepEqual(DmDataPath.argv("deactivate", "vg", "lv"), ["lvchange", "--activate", "n", "vg/lv"]);
    // This machine kind has no device-mapper: the real command runs and its failure is a typed error.
    const dmLvm = new Lvm(log, async () => [(await dom.range("metadata")).pv], true);
    await rejects(new DmDataPath(dmLvm).activate(dom.sdUUID, "ids"), "CannotActivateLogicalVolume", "lvchange -ay without device-mapper");
  });

  test("the checker reports an interrupted create and metadata that disagrees with the tags", async () => {
    const c = randomUUID();
    await dom.createVolumeArea(img, c, BLANK, MiB);
    assert.ok((await fx.check()).some((p) => p.includes("OVIRT_VOL_INITIALIZING")), "a create that never wrote metadata");
    await dom.writeVolumeMeta(img, c, { ...volMd(dom.sdUUID, img, BLANK), PUUID: randomUUID() });
    const problems = await fx.check();
    assert.ok(problems.some((p) => p.includes("but PUUID=")), problems.join("; "));
    await dom.removeVolumeArea(img, c);
    assert.deepEqual(await fx.check(), []);
  });

  test("one lvm command per create and per deleteImage: a crash leaves an ILLEGAL volume the journal removes, or free slots with stale text the next create overwrites", async () => {
    const i2 = randomUUID();
    const [p, q, r] = [randomUUID(), randomUUID(), randomUUID()];
    const lvOf = async (v: string) => (await dom.lvm.lvs(dom.sdUUID)).find((l) => l.name === v);
    const slotOf = async (v: string) => Number((await lvOf(v))!.tags.find((t) => t.startsWith("MD_"))!.slice(3));
    // Create: the metadata is in its slot before the LV exists, so the LV is complete when it appears.
    await dom.createVolumeWithMeta(i2, p, BLANK, MiB, { ...volMd(dom.sdUUID, i2, BLANK), LEGALITY: "ILLEGAL" });
    assert.deepEqual((await lvOf(p))!.tags.filter((t) => !/^(IU|PU|MD)_/.test(t)), [], "no OVIRT_VOL_INITIALIZING to drop later");
    // A crash here: an ILLEGAL volume (the checker says so); the journal's step removes it.
    const problems = await fx.check();
    assert.ok(problems.some((x) => x === `LV ${p}: ILLEGAL`), problems.join("; "));
    await dom.removeVolumeArea(i2, p);
    assert.deepEqual(await fx.check(), []);

    // deleteImage: every volume ILLEGAL, one lvremove of all LVs, then the slots cleared.
    await dom.createVolumeWithMeta(i2, p, BLANK, MiB, volMd(dom.sdUUID, i2, BLANK, "INTERNAL"));
    await dom.createVolumeWithMeta(i2, q, p, MiB, volMd(dom.sdUUID, i2, p));
    const [sp, sq] = [await slotOf(p), await slotOf(q)];
    assert.deepEqual(await fx.check(), []);
    // A crash between the lvremove and the clear: slots no LV names still hold text; that is clean.
    await dom.lvm.lvremove(dom.sdUUID, [p, q]);
    assert.deepEqual(await fx.check(), [], "stale text in free slots is not a problem");
    assert.match((await dom.readSlot(sp)).toString("utf8"), /EOF/, "the crash left the text");
    assert.equal(await dom.hasImage(i2), false, "the image is gone at once");
    // The next create takes the lowest free slot, and its text replaces the stale one.
    const i3 = randomUUID();
    await dom.createVolumeWithMeta(i3, r, BLANK, MiB, volMd(dom.sdUUID, i3, BLANK));
    assert.equal(await slotOf(r), Math.min(sp, sq));
    assert.equal((await dom.readVolumeMeta(i3, r)).IMAGE, i3);
    assert.deepEqual(await fx.check(), []);

    // The whole job: LVs gone, both slots zeroed, nothing left behind.
    await dom.writeVolumeMeta(i3, r, volMd(dom.sdUUID, i3, BLANK, "INTERNAL"));
    await dom.createVolumeWithMeta(i3, q, r, MiB, volMd(dom.sdUUID, i3, r));
    const slots = [await slotOf(r), await slotOf(q)];
    await deleteBlockImageJob(new Task(randomUUID(), "deleteImage"), dom, i3);
    assert.equal(await lvOf(r), undefined);
    assert.equal(await lvOf(q), undefined);
    for (const s of slots) assert.ok((await dom.readSlot(s)).every((b) => b === 0), `slot ${s} cleared`);
    assert.deepEqual(await fx.check(), []);
  });
});

function readlink(p: string): string {
  return execFileSync("readlink", ["-f", p], { encoding: "utf8" }).trim();
}
