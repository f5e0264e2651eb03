/**
 * A VM's CD-ROM drive: every VM has one IDE CD-ROM (`cdrom0`, as oVirt gives every VM one), empty
 * or holding an ISO file of a storage domain. At start the medium is opened read-only by
 * `-blockdev`; on a running VM `changeCD` (VDSM's `VM.changeCD`) swaps it live with QMP
 * `blockdev-change-medium`, or ejects it with `blockdev-open-tray` + `blockdev-remove-medium`.
 * The node resolves the file through the storage side (`isoPath`: the domain's ISO directory,
 * an ISO9660 image only) and records the medium, so a restarted agent reports the same one.
 */
import type { CdromSpec } from "@vela/protocol";
import type { ImageService } from "../api/services.js";
import type { Logger } from "../log.js";
import type { QmpClient } from "../qemu/qmp.js";
import { writeRecord } from "./rundir.js";
import type { Vm } from "./vm.js";

/** The CD-ROM's device id (QMP `id`). */
export const CDROM_ID = "cdrom0";

/** The path of the medium a spec names, or undefined for an empty drive. */
export async function cdromPath(images: ImageService, spec: CdromSpec | undefined): Promise<string | undefined> {
  if (!spec || !("domainID" in spec)) return undefined;
  return images.isoPath(spec.domainID, spec.file);
}

/** QEMU arguments of the CD-ROM drive, with the medium at `path` or empty. */
export function cdromArgv(path: string | undefined): string[] {
  const device: Record<string, unknown> = { driver: "ide-cd", id: CDROM_ID, bus: "ide.1", unit: 0 };
  if (!path) return ["-device", JSON.stringify(device)];
  return [
    "-blockdev",
    JSON.stringify({ driver: "file", filename: path, "node-name": "cdrom-file", "read-only": true }),
    "-blockdev",
    JSON.stringify({ driver: "raw", file: "cdrom-file", "node-name": "cdrom-medium", "read-only": true }),
    "-device",
    JSON.stringify({ ...device, drive: "cdrom-medium" }),
  ];
}

/** Changes (or, with an empty file, ejects) the medium of a running VM, then records it. */
export async function changeCd(images: ImageService, vm: Vm, qmp: QmpClient, spec: CdromSpec, log: Logger): Promise<void> {
  // Resolved first: a missing or non-ISO file is refused before the guest's drive is touched.
  const path = await cdromPath(images, spec);
  if (path) {
    await qmp.blockdevChangeMedium(CDROM_ID, path);
  } else {
    await qmp.blockdevOpenTray(CDROM_ID);
    await qmp.blockdevRemoveMedium(CDROM_ID);
  }
  vm.rec.params = { ...vm.rec.params, cdrom: spec };
  vm.rec.cdrom = path;
  await writeRecord(vm.paths, vm.rec);
  log.info({ vmId: vm.id, cdrom: "domainID" in spec ? spec.file : "(ejected)" }, "CD-ROM medium changed");
}
