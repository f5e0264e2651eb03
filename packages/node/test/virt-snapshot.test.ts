/**
 * VM.snapshot (live snapshot) on a real node with real QEMU (TCG) running the test guest, which
 * keeps writing to its disk: the SPM's createVolume makes the new top, the verb switches the
 * running drive to it (the VM stays Up, `qemu-img info --backing-chain` shows the new top on the
 * old one, the guest's writes grow the new top, the node's stats and definition name it), a
 * second snapshot stacks on the first; refusals (unknown drive, wrong base, memory, a new volume
 * QEMU cannot open) change nothing and leave the VM running on the same top.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { openSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type LocalPool, type NodeProc, setupLocalPool, waitTaskXml } from "./harness.js";
import { createQcow2, errorCode, guestVm, qemuImgActualSize, vmStats, waitConsole, waitFor, waitStatus, startVirtNode, stopWithVms } from "./virt-support.js";

let node: NodeProc;
let pool: LocalPool;
const MiB = 2 ** 20;

before(async () => {
  node = await startVirtNode();
  pool = await setupLocalPool(node);
});
after(async () => {
  await stopWithVms(node);
});

interface ChainEntry {
  filename: string;
  format: string;
  "backing-filename"?: string;
}

function backingChain(path: string): ChainEntry[] {
  return JSON.parse(execFileSync("qemu-img", ["info", "-U", "--backing-chain", "--output=json", path], { encoding: "utf8" })) as ChainEntry[];
}

describe("live snapshot of a running VM", () => {
  const vmId = randomUUID();
  let drive: { poolID: string; domainID: string; imageID: string; volumeID: string };
  let imageDir = "";
  const base = () => drive.volumeID;
  const vol = (id: string) => join(imageDir, id);

  /** The SPM's part: a COW volume on `parent` in the drive's image (as the engine asks for it). */
  async function newTop(parent: string): Promise<string> {
    const id = randomUUID();
    const r = await node.xml("createVolume", pool.sdUUID, pool.spUUID, drive.imageID, String(64 * MiB), 4, 2, "DATA", id, "snapshot", drive.imageID, parent);
    assert.equal(r.status.code, 0, r.status.message);
    await waitTaskXml(node, r.uuid as string);
    return id;
  }

  async function top(): Promise<string> {
    const disks = (await vmStats(node, vmId)).disks as Record<string, Record<string, string>>;
    return disks.vda?.volumeID as string;
  }

  const snap = (volumeID: string, baseVolumeID: string, extra: Record<string, unknown> = {}) =>
    node.json("VM.snapshot", { vmID: vmId, snapDrives: [{ domainID: drive.domainID, imageID: drive.imageID, volumeID, baseVolumeID }], ...extra });

  test("the VM runs the guest, which keeps writing to its disk", async () => {
    const made = await createQcow2(node, pool, 64);
    drive = made.drive;
    imageDir = join(pool.domainDir, "images", drive.imageID);
    await node.json("VM.create", { vmParams: guestVm(vmId, { args: "vela.write=2 vela.rate=2", drives: [drive] }) });
    await waitStatus(node, vmId, "Up", 30_000);
    await waitConsole(node.runDir, vmId, "GUEST-RATE-START", 90_000);
  });

  let v2 = "";
  test("VM.snapshot switches the drive to the new top; the VM stays up and writes into it", async () => {
    v2 = await newTop(base());
    const sizeBefore = qemuImgActualSize(vol(v2));
    assert.equal(await snap(v2, base()), true);
    const st = await vmStats(node, vmId);
    assert.equal(st.status, "Up");
    assert.equal(st.qemuStatus, "running");
    assert.equal(await top(), v2, "the node's stats name the new top");
    const chain = backingChain(vol(v2));
    assert.deepEqual(chain.map((c) => c.filename.split("/").pop()), [v2, base()], JSON.stringify(chain));
    // The guest writes 2 MiB/s: they land in the new top, which grows.
    await waitFor("the new top grows", () => qemuImgActualSize(vol(v2)) > sizeBefore + 2 * MiB, 60_000, 500);
    const full = (await node.json("Host.getVMList", { fullStatus: true, vmList: [vmId] })) as { drives: { volumeID: string; path: string }[] }[];
    assert.equal(full[0]?.drives[0]?.volumeID, v2, "the VM's definition follows (teardown, recovery, migration read it)");
    assert.equal(full[0]?.drives[0]?.path.endsWith(v2), true);
  });

  test("bad input is refused and the VM keeps running on the same top", async () => {
    const other = randomUUID();
    // Each request is made in turn (a thunk): the VM must be the same before every one.
    for (const [what, req, code] of [
      ["an image that is not a drive of the VM", () => node.json("VM.snapshot", { vmID: vmId, snapDrives: [{ domainID: drive.domainID, imageID: other, volumeID: randomUUID(), baseVolumeID: v2 }] }), 48],
      ["a base that is not the drive's top", () => snap(randomUUID(), base()), 48],
      ["the base as the new volume", () => snap(v2, v2), 1000],
      ["a memory snapshot", () => snap(randomUUID(), v2, { snapMemory: "sd,pool,img,vol" }), 44],
      ["an unknown VM", () => node.json("VM.snapshot", { vmID: randomUUID(), snapDrives: [{ domainID: drive.domainID, imageID: drive.imageID, volumeID: randomUUID(), baseVolumeID: v2 }] }), 1],
      ["a new volume that does not exist", () => snap(randomUUID(), v2), 201],
      ["no drives", () => node.json("VM.snapshot", { vmID: vmId, snapDrives: [] }), undefined],
    ] as const) {
      const err = await errorCode(req());
      assert.ok(err, `${what}: refused`);
      if (code !== undefined) assert.equal(err.code, code, `${what}: ${err.message}`);
      assert.equal(await top(), v2, `${what}: the drive still runs on ${v2}`);
    }
    assert.equal((await vmStats(node, vmId)).status, "Up");
  });

  test("a new top QEMU cannot open fails the snapshot; nothing changes; the next snapshot works", async () => {
    const bad = await newTop(v2);
    // Not a qcow2 image any more: blockdev-add fails inside the verb (a real QEMU refusal).
    const fd = openSync(vol(bad), "r+");
    writeSync(fd, Buffer.alloc(512, 0x5a), 0, 512, 0);
    closeSync(fd);
    const err = await errorCode(snap(bad, v2));
    assert.equal(err?.code, 48, err?.message);
    assert.match(String(err?.message), /QEMU refused the snapshot/);
    assert.equal(await top(), v2);
    assert.equal((await vmStats(node, vmId)).status, "Up");

    // A second child of v2 (the failed one stays for its owner to delete): a second live snapshot.
    const v3 = await newTop(v2);
    assert.equal(await snap(v3, v2), true);
    assert.equal(await top(), v3);
    assert.deepEqual(backingChain(vol(v3)).map((c) => c.filename.split("/").pop()), [v3, v2, base()]);
    const before3 = qemuImgActualSize(vol(v3));
    await waitFor("the newest top grows", () => qemuImgActualSize(vol(v3)) > before3 + 2 * MiB, 60_000, 500);
    const st = await vmStats(node, vmId);
    assert.equal(st.status, "Up");
    assert.ok(Number((st.disks as Record<string, Record<string, string>>).vda?.writtenBytes) > 0, "I/O counters read from the new top's device");
  });

  test("destroy tears the VM down on its new chain", async () => {
    await node.json("VM.destroy", { vmID: vmId });
    assert.equal((await errorCode(vmStats(node, vmId)))?.code, 1);
  });
});
