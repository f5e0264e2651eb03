/**
 * Where a VM's runtime files live on this host: <runDir>/vms/<vmId>/ holds QEMU's pidfile, the QMP
 * and serial sockets, the serial console log, and vm.json (what the node was asked to run and how
 * it ran it, so that a restarted agent can recover the VM). Nothing here is configuration the
 * engine owns; the directory goes away when the VM is destroyed. Paths are built only from
 * validated UUIDs and the configured run directory.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isUuid, type VmParams } from "@vela/protocol";
import type { AccelName } from "./accel/index.js";

/** A prepared drive as the VM uses it. */
export interface DriveRecord {
  poolID: string;
  domainID: string;
  imageID: string;
  volumeID: string;
  path: string;
  format: "qcow2" | "raw";
  /** Guest device name (vda, sdb, hdc …) as VDSM reports disks. */
  name: string;
  /** QEMU node names of the format and file nodes. */
  formatNode: string;
  fileNode: string;
}

export interface ExitInfo {
  /** VDSM's exitCode: 0 normal, 1 error. */
  code: 0 | 1;
  /** VDSM's exitReason number. */
  reason: number;
  message: string;
  at: number;
}

/** vm.json. */
export interface VmRecord {
  version: 1;
  params: VmParams;
  accel: AccelName;
  /** ms since the epoch when the node accepted the VM. */
  createdAt: number;
  drives: DriveRecord[];
  taps: string[];
  /** QEMU id number of each NIC (`net<n>`/`nic<n>`, tap index); absent: 0, 1, 2 … (no hot-plug yet). */
  nicSlots?: number[];
  /** The payload (cloud-init seed) image in the run directory, when the VM has one. */
  payload?: string;
  /** The CD-ROM's medium (an ISO file of a domain), when the drive is not empty. */
  cdrom?: string;
  /** Set once the VM is known to be Down. */
  exit?: ExitInfo;
}

export interface VmPaths {
  dir: string;
  record: string;
  pidfile: string;
  qmp: string;
  console: string;
  consoleLog: string;
}

/** Longest path a unix socket may have (sun_path is 108 bytes including the NUL). */
export const MAX_SOCKET_PATH = 107;

export function vmsDir(runDir: string): string {
  return join(runDir, "vms");
}

export function vmPaths(runDir: string, vmId: string): VmPaths {
  if (!isUuid(vmId)) throw new Error(`not a VM id: ${vmId}`);
  const dir = join(vmsDir(runDir), vmId);
  return {
    dir,
    record: join(dir, "vm.json"),
    pidfile: join(dir, "qemu.pid"),
    qmp: join(dir, "qmp.sock"),
    console: join(dir, "console.sock"),
    consoleLog: join(dir, "console.log"),
  };
}

export async function createVmDir(paths: VmPaths): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o750 });
}

/** Written atomically: a crash leaves either the old record or the new one. */
export async function writeRecord(paths: VmPaths, rec: VmRecord): Promise<void> {
  const tmp = `${paths.record}.tmp`;
  await writeFile(tmp, `${JSON.stringify(rec, null, 1)}\n`, { mode: 0o640 });
  await rename(tmp, paths.record);
}

export async function readRecord(paths: VmPaths): Promise<VmRecord | undefined> {
  try {
    const rec = JSON.parse(await readFile(paths.record, "utf8")) as VmRecord;
    return rec.version === 1 && rec.params && rec.params.vmId ? rec : undefined;
  } catch {
    return undefined;
  }
}

export async function readPid(paths: VmPaths): Promise<number | undefined> {
  try {
    const n = Number((await readFile(paths.pidfile, "utf8")).trim());
    return Number.isSafeInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** VM ids that have a directory here. */
export async function listVmDirs(runDir: string): Promise<string[]> {
  try {
    return (await readdir(vmsDir(runDir))).filter(isUuid);
  } catch {
    return [];
  }
}

export async function removeVmDir(paths: VmPaths): Promise<void> {
  await rm(paths.dir, { recursive: true, force: true });
}
