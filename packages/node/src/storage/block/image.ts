/**
 * Preparing a block image for use on this host: every volume of the leaf's chain gets a device
 * (block/datapath.ts: an activated LV, or a loop device over its range) linked as
 * `<domain dir>/images/<img>/<vol>`, so qcow2 backing names (bare volume UUIDs) resolve beside the
 * leaf. Teardown removes the devices again. The metadata chain is the source of truth, as on file.
 */

import { join } from "node:path";
import { VdsmError } from "@vela/protocol";
import type { BlockDomain } from "../domain/block.js";
import type { VolumeMd } from "../metadata.js";
import { chainOf } from "../volume/volume.js";
import { MiB } from "./lvm.js";
import { LEASE_SLOT_BASE_MIB } from "./volume.js";

export async function prepareBlockImage(dom: BlockDomain, img: string, leaf: string, allowIllegal: boolean) {
  if (!(await dom.hasImage(img))) throw new VdsmError("ImageDoesNotExistInSD", `${img} in ${dom.sdUUID}`);
  const chain: { vol: string; md: VolumeMd }[] = await chainOf(dom, img, leaf);
  for (const { vol, md } of chain) {
    if (md.LEGALITY !== "LEGAL" && !allowIllegal) throw new VdsmError("prepareIllegalVolumeError", vol);
  }
  const dir = join(dom.dir, "images", img);
  const imgVolumesInfo = [];
  // Base first: a leaf is never usable while its backing volumes are not.
  for (const { vol } of [...chain].reverse()) {
    const path = await dom.prepareVolume(img, vol);
    const { slot } = await dom.volumeLv(img, vol);
    imgVolumesInfo.unshift({ domainID: dom.sdUUID, imageID: img, volumeID: vol, path, leasePath: dom.leasesPath(), leaseOffset: (LEASE_SLOT_BASE_MIB + slot) * MiB });
  }
  const path = join(dir, leaf);
  return { path, info: { type: "block", path, volType: "path" }, imgVolumesInfo, chain, dir };
}

/** Frees the devices of every volume of the chain (best effort past the first failure: all are tried). */
export async function teardownBlockImage(dom: BlockDomain, img: string, leaf: string): Promise<void> {
  const chain = await chainOf(dom, img, leaf).catch(() => [{ vol: leaf }]);
  let first: unknown;
  for (const { vol } of chain) await dom.teardownVolume(img, vol).catch((err: unknown) => (first ??= err));
  if (first) throw first;
}
