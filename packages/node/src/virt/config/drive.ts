/**
 * Drives: each prepared leaf volume becomes a `-blockdev` pair (a file or host_device node and a
 * qcow2/raw format node; QEMU opens the backing chain from the qcow2 headers, read-only) and a
 * guest device on the bus the definition asks for. Node names are fixed (file<N>, drive<N>) so
 * the drive monitor can address them. Never opens an image itself.
 */
import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";
import { type DriveSpec, VdsmError } from "@vela/protocol";
import type { PreparedImage } from "../../api/services.js";
import type { DriveRecord } from "../rundir.js";

type Iface = DriveSpec["iface"];

const PREFIX: Record<Iface, string> = { virtio: "vd", scsi: "sd", sata: "sd", ide: "hd" };
const IDE_MAX = 4;
const SATA_MAX = 6;

/** Guest names in VDSM's style: vda, vdb … per prefix, in definition order. */
export function driveNames(drives: readonly Pick<DriveSpec, "iface">[]): string[] {
  const count = new Map<string, number>();
  return drives.map((d) => {
    const prefix = PREFIX[d.iface];
    const n = count.get(prefix) ?? 0;
    count.set(prefix, n + 1);
    return prefix + (n < 26 ? String.fromCharCode(97 + n) : `${String.fromCharCode(96 + Math.floor(n / 26))}${String.fromCharCode(97 + (n % 26))}`);
  });
}

/** Refuses definitions QEMU would refuse later, with a clear reason, before anything is prepared. */
export function checkDrives(drives: readonly DriveSpec[]): void {
  const seen = new Set<string>();
  let ide = 0;
  let sata = 0;
  for (const d of drives) {
    const key = `${d.domainID}/${d.imageID}`;
    if (seen.has(key)) throw new VdsmError("createErr", `image ${d.imageID} is attached twice`);
    seen.add(key);
    if (d.iface === "ide") ide++;
    if (d.iface === "sata") sata++;
    if (d.readonly && (d.iface === "ide" || d.iface === "sata")) {
      throw new VdsmError("createErr", `a read-only disk cannot use the ${d.iface} bus (use virtio or scsi)`);
    }
  }
  if (ide > IDE_MAX) throw new VdsmError("createErr", `at most ${IDE_MAX} ide disks`);
  if (sata > SATA_MAX) throw new VdsmError("createErr", `at most ${SATA_MAX} sata disks`);
}

export function driveRecord(spec: DriveSpec, prepared: PreparedImage, index: number, name: string): DriveRecord {
  return {
    poolID: spec.poolID,
    domainID: spec.domainID,
    imageID: spec.imageID,
    volumeID: spec.volumeID,
    path: prepared.path,
    format: prepared.format,
    name,
    formatNode: `drive${index}`,
    fileNode: `file${index}`,
  };
}

/**
 * Whether the volume's file system takes O_DIRECT (NFS, ext4, xfs, block devices do; tmpfs on
 * older kernels does not). Direct I/O is what shared storage wants; where it is impossible,
 * QEMU would refuse to open the image, so the page cache is used instead.
 */
async function directIo(path: string, readonly: boolean): Promise<boolean> {
  try {
    const fh = await open(path, (readonly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_DIRECT);
    await fh.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * The `-blockdev` (or `blockdev-add`) options of a drive's file node and format node, named as
 * its record says; a live snapshot adds a new top's pair the same way (virt/snapshot.ts).
 */
export async function blockdevNodes(rec: Pick<DriveRecord, "path" | "format" | "fileNode" | "formatNode">, ro: boolean): Promise<[Record<string, unknown>, Record<string, unknown>]> {
  const isBlock = (await stat(rec.path)).isBlockDevice();
  // O_DIRECT where possible, as on shared storage: no host page cache between hosts
  const cache = { direct: await directIo(rec.path, ro), "no-flush": false };
  return [
    { driver: isBlock ? "host_device" : "file", filename: rec.path, "node-name": rec.fileNode, cache, "read-only": ro, discard: "unmap" },
    { driver: rec.format, file: rec.fileNode, "node-name": rec.formatNode, cache, "read-only": ro, discard: "unmap" },
  ];
}

/** QEMU arguments for all drives, controllers included. */
export async function drivesArgv(specs: readonly DriveSpec[], records: readonly DriveRecord[]): Promise<string[]> {
  const argv: string[] = [];
  if (specs.some((d) => d.iface === "scsi")) argv.push("-device", JSON.stringify({ driver: "virtio-scsi-pci", id: "scsi0" }));
  if (specs.some((d) => d.iface === "sata")) argv.push("-device", JSON.stringify({ driver: "ahci", id: "sata0" }));
  const onBus: Record<Iface, number> = { virtio: 0, scsi: 0, sata: 0, ide: 0 };
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    const rec = records[i];
    const [file, format] = await blockdevNodes(rec, spec.readonly);
    argv.push("-blockdev", JSON.stringify(file), "-blockdev", JSON.stringify(format));
    const n = onBus[spec.iface]++;
    const dev: Record<string, unknown> = { drive: rec.formatNode, id: `disk${i}` };
    switch (spec.iface) {
      case "virtio":
        dev.driver = "virtio-blk-pci";
        break;
      case "scsi":
        Object.assign(dev, { driver: "scsi-hd", bus: "scsi0.0", channel: 0, "scsi-id": n, lun: 0 });
        break;
      case "sata":
        Object.assign(dev, { driver: "ide-hd", bus: `sata0.${n}` });
        break;
      case "ide":
        Object.assign(dev, { driver: "ide-hd", bus: `ide.${n >> 1}`, unit: n & 1 });
        break;
    }
    if (spec.bootOrder !== undefined) dev.bootindex = spec.bootOrder;
    argv.push("-device", JSON.stringify(dev));
  }
  return argv;
}
