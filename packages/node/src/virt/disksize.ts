/**
 * Live disk extension on the VM's host (VDSM's `VM.diskSizeExtend`): the SPM has already grown
 * the volume (its capacity, and a block volume's LV per VDSM's rules: raw to the new size,
 * preallocated qcow2 to 1.1 × it, thin unchanged); here the host's device of the volume is
 * refreshed to the LV's new size (block), QEMU grows the drive's image with `block_resize` on its
 * format node, and a thin drive's watch learns the new capacity. The guest sees the new size
 * (virtio-blk reports a capacity change). Never shrinks: a smaller size is refused, nothing changed.
 */
import { type DriveSpec, VdsmError } from "@vela/protocol";
import type { ImageService } from "../api/services.js";
import type { Logger } from "../log.js";
import type { QmpClient } from "../qemu/qmp.js";
import type { Vm } from "./vm.js";

type Drive = Pick<DriveSpec, "poolID" | "domainID" | "imageID" | "volumeID">;

async function virtualSize(qmp: QmpClient, nodeName: string): Promise<number> {
  const node = (await qmp.queryNamedBlockNodes()).find((n) => n["node-name"] === nodeName);
  if (!node) throw new VdsmError("imageErr", `QEMU has no block node ${nodeName}`);
  return node.image["virtual-size"];
}

export async function diskSizeExtend(images: ImageService, vm: Vm, qmp: QmpClient, spec: Drive, newSize: number, log: Logger): Promise<{ size: string }> {
  const rec = vm.rec.drives.find((d) => d.domainID === spec.domainID && d.imageID === spec.imageID && d.volumeID === spec.volumeID);
  if (!rec) throw new VdsmError("imageErr", `VM ${vm.id} has no drive on volume ${spec.volumeID} of image ${spec.imageID}`);
  const before = await virtualSize(qmp, rec.formatNode);
  if (newSize < before) throw new VdsmError("VolumeResizeValueError", `${newSize} bytes is smaller than drive ${rec.name}'s ${before}: disks never shrink`);
  if (newSize > before) {
    // The device under a block volume must cover the new size first (QEMU cannot grow a device).
    await images.refresh?.(rec);
    try {
      await qmp.blockResize(rec.formatNode, newSize);
    } catch (err) {
      throw new VdsmError("VolumeExtendingError", `block_resize of drive ${rec.name} to ${newSize} bytes: ${(err as Error).message}`);
    }
  }
  const after = await virtualSize(qmp, rec.formatNode);
  await vm.thin?.resized(rec.volumeID, after);
  log.info({ vmId: vm.id, drive: rec.name, volUUID: rec.volumeID, before, after }, "drive extended live");
  return { size: String(after) };
}
