/**
 * Making a block domain on a VG that createVG made (tagged UNREADY, named after the domain): the
 * special LVs laid out from extent 0 in VDSM's sizes, their areas zeroed where a stale LUN would
 * confuse readers, then the domain metadata as VG tags and the readiness tag in one lvm commit. A
 * failure removes the LVs it made, leaving the VG as createVG left it.
 */
import { VdsmError } from "@vela/protocol";
import { type Md, newDomainMd } from "../metadata.js";
import { zeroRange } from "./layout.js";
import { type Lvm, MiB } from "./lvm.js";
import { extentsFor, SD_TAG, SD_UNREADY_TAG, SPECIAL_LVS, tagsFromMd } from "./vgtags.js";

export interface CreateBlockDomainArgs {
  sdUUID: string;
  vgUUID: string;
  name: string;
  type: "FCP" | "ISCSI";
  domClass: "Data" | "Iso" | "Backup";
  version: number;
  blockSize: number;
  /** The LUN GUID of each PV device (for the `PV<n>` keys). */
  guidOf: (device: string) => string | undefined;
}

/** Lays the domain out on its VG; the caller opens it afterwards. */
export async function layOutDomain(lvm: Lvm, a: CreateBlockDomainArgs): Promise<void> {
  const vg = (await lvm.vgs()).find((v) => v.uuid === a.vgUUID);
  if (!vg) throw new VdsmError("VolumeGroupDoesNotExist", `no VG with uuid ${a.vgUUID}`);
  if (vg.tags.includes(SD_TAG)) throw new VdsmError("VolumeGroupHasDomainTag", `VG ${vg.name} is already a domain`);
  if (vg.name !== a.sdUUID) throw new VdsmError("InvalidParameter", `VG ${vg.name} is not named after domain ${a.sdUUID} (createVG with the domain UUID)`);
  if (!vg.tags.includes(SD_UNREADY_TAG)) throw new VdsmError("VolumeGroupActionError", `VG ${vg.name} was not made by createVG (no ${SD_UNREADY_TAG} tag)`);
  if ((await lvm.lvs(vg.name)).length) throw new VdsmError("StorageDomainNotEmpty", `VG ${vg.name} already has LVs`);
  const pvs = (await lvm.pvs()).filter((p) => p.vgName === vg.name);
  const pv = pvs[0];
  if (!pv || pvs.length !== 1) throw new VdsmError("VolumeGroupActionError", `VG ${vg.name}: one PV supported today, found ${pvs.length}`);
  const plan: [string, number, number][] = [];
  let next = 0;
  for (const [name, mib] of SPECIAL_LVS) {
    const n = extentsFor(mib * MiB, vg.extentSize);
    plan.push([name, next, n]);
    next += n;
  }
  // Room for the special LVs and at least one volume extent.
  if (next + 1 > vg.freeCount) throw new VdsmError("VolumeGroupSizeError", `VG ${vg.name} has ${vg.freeCount} free extents; a domain needs ${next + 1}`);
  const made: string[] = [];
  try {
    for (const [name, first, n] of plan) {
      await lvm.lvcreate(vg.name, name, pv.name, first, n);
      made.push(name);
    }
    // Unused slots, host ids and mailboxes read as zeroes whatever the LUN held before.
    for (const [name, first, n] of plan) {
      if (name === "leases" || name === "xleases" || name === "master") continue;
      await zeroRange(lvm, pv.name, pv.peStart + first * vg.extentSize, n * vg.extentSize);
    }
    const md: Md = {
      ...newDomainMd(a),
      VGUUID: vg.uuid,
      LOGBLKSIZE: String(a.blockSize),
      PHYBLKSIZE: String(a.blockSize),
      ALIGNMENT: String(MiB),
      BLOCK_SIZE: String(a.blockSize),
      PV0: `pv:${a.guidOf(pv.name) ?? pv.name},uuid:${pv.uuid},pestart:0,pecount:${pv.peCount},mapoffset:0`,
    };
    // Metadata and readiness in one lvm commit: the VG is a domain with its metadata, or not one.
    await lvm.vgtags(vg.name, [...tagsFromMd(md), SD_TAG], [SD_UNREADY_TAG]);
  } catch (err) {
    // No orphans: a failed create leaves the VG as createVG made it.
    for (const name of made.reverse()) await lvm.lvremove(vg.name, name).catch(() => {});
    throw err instanceof VdsmError ? err : new VdsmError("StorageDomainCreationError", `${a.sdUUID}: ${(err as Error).message}`);
  }
}
