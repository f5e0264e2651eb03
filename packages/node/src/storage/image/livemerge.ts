/**
 * The storage half of a live merge (virt/merge.ts runs QEMU's block-commit): before the job, the
 * check that the chain is one a merge may shorten; after it, the volume metadata follows what
 * QEMU did (VDSM's imageSyncVolumeChain, done on the VM's host): top's child now stands on base,
 * or base is the leaf again; top is marked ILLEGAL so nothing prepares it, and is left for the
 * engine to delete through the SPM. File domains only: on a block domain the base LV would need
 * room for top's data first, which Vela does not do live yet (refused, nothing changed).
 */
import { VdsmError } from "@vela/protocol";
import { BlockDomain } from "../domain/block.js";
import type { DomainRegistry } from "../domain/index.js";
import { chainOf, childrenOf, imageVolumes, writeMeta } from "../volume/volume.js";

export interface MergeDrive {
  domainID: string;
  imageID: string;
  /** The drive's active volume. */
  volumeID: string;
}

/** Refuses a merge of `top` into `base` that the drive's chain does not allow. */
export async function checkLiveMerge(domains: DomainRegistry, d: MergeDrive, base: string, top: string): Promise<void> {
  const dom = await domains.get(d.domainID);
  if (dom instanceof BlockDomain) {
    throw new VdsmError("mergeErr", `domain ${d.domainID} is a block domain: a live merge would need room in the base LV first, which Vela does not do yet; stop the VM to merge`);
  }
  const chain = (await chainOf(dom, d.imageID, d.volumeID)).map((c) => c.vol);
  const at = chain.indexOf(top);
  if (at < 0) throw new VdsmError("mergeErr", `volume ${top} is not on the chain of drive ${d.imageID} (active volume ${d.volumeID})`);
  if (chain[at + 1] !== base) throw new VdsmError("mergeErr", `volume ${base} is not the parent of ${top}`);
  const vols = await imageVolumes(dom, d.imageID);
  const bmd = vols.get(base);
  const tmd = vols.get(top);
  if (!bmd || !tmd) throw new VdsmError("VolumeDoesNotExist", `${base} or ${top} in ${d.imageID}`);
  if (bmd.VOLTYPE === "SHARED" || bmd.IMAGE !== d.imageID) throw new VdsmError("mergeErr", `${base} is a template's volume: it cannot take in a snapshot`);
  if (bmd.LEGALITY !== "LEGAL" || tmd.LEGALITY !== "LEGAL") throw new VdsmError("ImageIsNotLegalChain", d.imageID);
  const others = childrenOf(vols, base).filter((c) => c !== top);
  if (others.length) throw new VdsmError("mergeErr", `${base} has other children (${others.join(",")}): the image has a branch there`);
  if (tmd.CAP > bmd.CAP) throw new VdsmError("mergeErr", `${base} is smaller than ${top} (${bmd.CAP} < ${tmd.CAP} bytes)`);
}

/** After QEMU committed `top` into `base`: the metadata says the chain is one volume shorter. */
export async function syncMergedChain(domains: DomainRegistry, d: MergeDrive, base: string, top: string): Promise<void> {
  const dom = await domains.get(d.domainID);
  const vols = await imageVolumes(dom, d.imageID);
  const bmd = vols.get(base);
  const tmd = vols.get(top);
  if (!bmd || !tmd) throw new VdsmError("VolumeDoesNotExist", `${base} or ${top} in ${d.imageID}`);
  // Children first: should the host die half-way, the chain from the leaf already skips top.
  for (const kid of childrenOf(vols, top)) await writeMeta(dom, d.imageID, kid, { ...(vols.get(kid) as typeof tmd), PUUID: base });
  await writeMeta(dom, d.imageID, base, { ...bmd, VOLTYPE: tmd.VOLTYPE, GEN: (bmd.GEN + 1) % 1000 });
  await writeMeta(dom, d.imageID, top, { ...tmd, LEGALITY: "ILLEGAL" });
}
