/**
 * Live snapshot of a running VM (VDSM's VM.snapshot): the SPM has already created each drive's
 * new top (a qcow2 volume whose parent is the drive's current top); here each new top is
 * prepared, added to QEMU's block graph with `blockdev-add` (no backing yet), and one QMP
 * `transaction` of `blockdev-snapshot` actions makes every new top its device's root, backed by
 * the old top — all drives or none. The guest keeps running and writes into the new tops; the
 * VM's record (vm.json: drive volumes, paths, node names) follows, so statistics, thin-drive
 * watching, teardown and recovery see the new chain. On any failure QEMU's graph and the record
 * are left as they were; the new volumes stay on storage for the engine to delete.
 * Memory snapshots (`snapMemory`) are refused: Vela takes disk-only live snapshots.
 */
import { type SnapDrive, VdsmError } from "@vela/protocol";
import type { ImageService } from "../api/services.js";
import type { Logger } from "../log.js";
import { QmpError, type QmpClient } from "../qemu/qmp.js";
import { blockdevNodes } from "./config/drive.js";
import { type DriveRecord, writeRecord } from "./rundir.js";
import type { Vm } from "./vm.js";

interface Switch {
  index: number;
  old: DriveRecord;
  next: DriveRecord;
}

/** QEMU node names of a new top: unique per volume, within QEMU's 31 characters. */
function nodeNames(index: number, volumeID: string): { formatNode: string; fileNode: string } {
  const tag = volumeID.replaceAll("-", "").slice(0, 20);
  return { formatNode: `d${index}-${tag}`, fileNode: `f${index}-${tag}` };
}

/** Which of the VM's drives each entry names; refuses entries that do not fit the VM as it runs. */
function matchDrives(vm: Vm, drives: readonly SnapDrive[]): { index: number; sd: SnapDrive }[] {
  const seen = new Set<number>();
  return drives.map((sd) => {
    const index = vm.rec.drives.findIndex((d) => d.domainID === sd.domainID && d.imageID === sd.imageID);
    if (index < 0) throw new VdsmError("snapshotErr", `image ${sd.imageID} of domain ${sd.domainID} is not a drive of VM ${vm.id}`);
    if (seen.has(index)) throw new VdsmError("InvalidParameter", `image ${sd.imageID} is named twice`);
    seen.add(index);
    const cur = vm.rec.drives[index] as DriveRecord;
    if (vm.rec.params.drives[index]?.readonly) throw new VdsmError("snapshotErr", `drive ${cur.name} is read-only`);
    if (sd.volumeID === sd.baseVolumeID) throw new VdsmError("InvalidParameter", `the new volume of image ${sd.imageID} is its base volume`);
    if (sd.baseVolumeID !== cur.volumeID) {
      throw new VdsmError("snapshotErr", `drive ${cur.name} runs on volume ${cur.volumeID}, not on the base volume ${sd.baseVolumeID}`);
    }
    return { index, sd };
  });
}

/** Prepares each new top and checks it stands on the drive's current top. */
async function prepareTops(images: ImageService, vm: Vm, matched: { index: number; sd: SnapDrive }[]): Promise<Switch[]> {
  const out: Switch[] = [];
  for (const { index, sd } of matched) {
    const old = vm.rec.drives[index] as DriveRecord;
    const drive = { poolID: old.poolID, domainID: sd.domainID, imageID: sd.imageID, volumeID: sd.volumeID };
    const prepared = await images.prepare(drive).catch((e: unknown) => {
      if (e instanceof VdsmError) throw e;
      throw new VdsmError("snapshotErr", `cannot prepare volume ${sd.volumeID}: ${(e as Error).message}`, { cause: e });
    });
    if (prepared.format !== "qcow2") throw new VdsmError("snapshotErr", `new volume ${sd.volumeID} is ${prepared.format}, not qcow2`);
    if (prepared.chain[1]?.volumeID !== sd.baseVolumeID) {
      throw new VdsmError("snapshotErr", `new volume ${sd.volumeID} does not stand on ${sd.baseVolumeID} (its parent: ${prepared.chain[1]?.volumeID ?? "none"})`);
    }
    out.push({ index, old, next: { ...old, volumeID: sd.volumeID, path: prepared.path, format: "qcow2", ...nodeNames(index, sd.volumeID) } });
  }
  return out;
}

/** blockdev-add of each new top's file and format nodes (backing left empty); undone on failure. */
async function addNodes(qmp: QmpClient, switches: Switch[], added: string[]): Promise<void> {
  for (const s of switches) {
    const [file, format] = await blockdevNodes(s.next, false);
    await qmp.blockdevAdd(file);
    added.push(s.next.fileNode);
    // blockdev-snapshot wants an overlay without a backing: QEMU links it to the old top itself.
    await qmp.blockdevAdd({ ...format, backing: null });
    added.push(s.next.formatNode);
  }
}

/**
 * Test fault `virt.snapshot.transaction` (VELA_TEST_FAULTS): the transaction gets one more action
 * naming a node that does not exist, so QEMU itself refuses all of it — the path of a switch that
 * fails after the new tops were added, with the VM left as it was.
 */
export const FAULT_TRANSACTION = "virt.snapshot.transaction";

export async function liveSnapshot(images: ImageService, vm: Vm, qmp: QmpClient, drives: readonly SnapDrive[], memory: string | undefined, log: Logger, faults: ReadonlySet<string>): Promise<{ quiesce: boolean }> {
  if (memory !== undefined && memory !== "") throw new VdsmError("noimpl", "memory snapshots are not supported: Vela takes disk-only live snapshots");
  const switches = await prepareTops(images, vm, matchDrives(vm, drives));
  const added: string[] = [];
  try {
    await addNodes(qmp, switches, added);
    const actions = switches.map((s) => ({ type: "blockdev-snapshot" as const, data: { node: s.old.formatNode, overlay: s.next.formatNode } }));
    if (faults.has(FAULT_TRANSACTION)) actions.push({ type: "blockdev-snapshot", data: { node: "vela-test-fault", overlay: "vela-test-fault-overlay" } });
    await qmp.transaction(actions);
  } catch (e) {
    // The transaction changed nothing; drop the nodes added for it, format nodes first.
    for (const node of added.reverse()) await qmp.blockdevDel(node).catch((err: unknown) => log.warn({ vmId: vm.id, node, err: String(err) }, "cannot remove an unused snapshot node"));
    const msg = e instanceof QmpError ? e.desc : (e as Error).message;
    throw new VdsmError("snapshotErr", `QEMU refused the snapshot: ${msg}`, { cause: e });
  }
  for (const s of switches) {
    vm.rec.drives[s.index] = s.next;
    const spec = vm.rec.params.drives[s.index];
    if (spec) spec.volumeID = s.next.volumeID;
  }
  await writeRecord(vm.paths, vm.rec);
  log.info({ vmId: vm.id, drives: switches.map((s) => ({ drive: s.old.name, from: s.old.volumeID, to: s.next.volumeID })) }, "live snapshot taken");
  return { quiesce: false };
}
