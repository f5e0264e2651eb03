/**
 * Volumes on block domains: each volume an LV named by its UUID (IU_/PU_/MD_ tags, metadata in its
 * slot of the `metadata` LV, block.ts), created, deleted, prepared and torn down as the file
 * volumes of volume.ts are, with the same ILLEGAL → work → LEGAL metadata rule. A thin (SPARSE
 * COW) volume's LV starts at one chunk of VDSM's extension policy (or the capacity, if smaller)
 * and is grown by the SPM while a VM writes (thin.ts). RAW + SPARSE cannot exist on block
 * storage (an LV has no holes to be sparse with) and is refused, as in VDSM.
 */
import { BLANK_UUID, VdsmError, type VolumeInfo } from "@vela/protocol";
import { run } from "../../exec.js";
import type { Logger } from "../../log.js";
import type { BlockDomain } from "../domain/block.js";
import { REMOVED_IMAGE_PREFIX } from "./vgtags.js";
import type { VolumeMd } from "../metadata.js";
import type { Task } from "../task/task.js";
import { childrenOf, fmtToImg, imageVolumes, infoFromMeta, type VolFormat, type VolType } from "../volume/volume.js";
import { MiB } from "./lvm.js";
import { steps } from "./steps.js";

/** VDSM's thin provisioning defaults (storage-format.md): chunk 2560 MiB, extend at 20 % of it left. */
export const DEFAULT_CHUNK_MIB = 2560;
/** Extend when less than this share of a chunk is left free in the LV (threshold = size − 80 % chunk). */
export const THRESHOLD_CHUNK_SHARE = 0.8;
/** A volume's lease is at (100 + slot) MiB in the `leases` LV (storage-format.md). */
export const LEASE_SLOT_BASE_MIB = 100;

/** The thin policy in force on this host (VELA_NODE_THIN_CHUNK_MIB overrides the chunk). */
export function chunkBytes(): number {
  const v = Number(process.env.VELA_NODE_THIN_CHUNK_MIB ?? DEFAULT_CHUNK_MIB);
  return (Number.isInteger(v) && v >= 128 && v <= 65536 ? v : DEFAULT_CHUNK_MIB) * MiB;
}

export interface BlockCreateSpec {
  dom: BlockDomain;
  img: string;
  vol: string;
  capacity: number;
  format: VolFormat;
  type: VolType;
  diskType: string;
  desc: string;
  /** Requested initial allocation of a thin volume (bytes), validated by the caller. */
  initialSize?: number;
  parent?: { img: string; vol: string; md: VolumeMd };
}

/** Refuses what a block domain cannot hold, before any task starts. */
export function checkBlockCreate(s: Pick<BlockCreateSpec, "format" | "type" | "parent" | "img">): void {
  if (s.format === "RAW" && s.type === "SPARSE") throw new VdsmError("IncorrectType", "RAW SPARSE volumes cannot live on block domains (use COW for thin disks)");
  if (s.parent && s.parent.img !== s.img) throw new VdsmError("InvalidParameter", "volumes based on a template in another image are not implemented on block domains yet");
}

/** LV bytes for a new volume: thin COW starts at one chunk (or its initial size); the rest hold the capacity. */
export function initialLvBytes(s: Pick<BlockCreateSpec, "format" | "type" | "capacity" | "initialSize">): number {
  if (s.format === "COW" && s.type === "SPARSE") return Math.min(s.initialSize ?? chunkBytes(), Math.ceil(s.capacity * 1.1));
  // qcow2 metadata on a preallocated COW volume: VDSM's 10 % estimate.
  return s.format === "COW" ? Math.ceil(s.capacity * 1.1) : s.capacity;
}

/** The createVolume job on a block domain: LV, ILLEGAL metadata, data, parent INTERNAL, LEGAL. */
export async function createBlockVolumeJob(log: Logger, task: Task, s: BlockCreateSpec, fault: (point: string) => void): Promise<void> {
  const sd = s.dom.sdUUID;
  const st = steps(log);
  const snapshotOf = s.parent && s.parent.md.VOLTYPE === "LEAF" ? s.parent : undefined;
  await task.push(
    { what: "remove half-made LV", action: "block.removeVolume", params: [sd, s.img, s.vol] },
    ...(snapshotOf ? [{ what: "parent back to LEAF", action: "volume.setVolType", params: [sd, s.img, snapshotOf.vol, "LEAF"] }] : []),
  );
  st.mark("journal");
  const md: VolumeMd = {
    CAP: s.capacity,
    CTIME: Math.floor(Date.now() / 1000),
    DESCRIPTION: s.desc,
    DISKTYPE: s.diskType,
    DOMAIN: sd,
    FORMAT: s.format,
    GEN: 0,
    IMAGE: s.img,
    LEGALITY: "ILLEGAL",
    PUUID: s.parent?.vol ?? BLANK_UUID,
    SEQ: 0,
    TYPE: s.type,
    VOLTYPE: "LEAF",
  };
  // The LV and its ILLEGAL metadata (written into the free slot first: one synced write).
  await s.dom.createVolumeWithMeta(s.img, s.vol, s.parent?.vol ?? BLANK_UUID, initialLvBytes(s), md, st);
  fault("createVolume.afterMeta");
  // Read and staged while qemu-img runs: the parent's metadata and the task's finished record.
  const aside = async () => {
    await task.prepareFinish?.();
    return snapshotOf ? s.dom.readVolumeMeta(s.img, snapshotOf.vol) : undefined;
  };
  let parentMd: VolumeMd | undefined;
  if (s.format === "COW") {
    // The parent's device must be linked beside the new volume for qemu-img to find it later;
    // `-u` writes the bare UUID as backing name without opening it.
    const path = await s.dom.prepareVolume(s.img, s.vol);
    st.mark("attach");
    try {
      const argv = ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=1.1"];
      if (s.parent) argv.push("-u", "-b", s.parent.vol, "-F", fmtToImg(s.parent.md.FORMAT));
      const data = run([...argv, path, String(s.capacity)], { log, timeoutMs: 120_000 }).catch((err: unknown) => {
        throw new VdsmError("VolumeCreationError", `${s.vol}: ${(err as Error).message}`, { cause: err });
      });
      // Both settle before the device goes: never torn down under a running qemu-img.
      const [made, read] = await Promise.allSettled([data, aside()]);
      if (made.status === "rejected") throw made.reason;
      if (read.status === "rejected") throw read.reason;
      parentMd = read.value;
      st.mark("qemu-img");
    } finally {
      await s.dom.teardownVolume(s.img, s.vol);
      st.mark("detach");
    }
  } else parentMd = await aside();
  fault("createVolume.afterCreate");
  // The parent INTERNAL and this volume LEGAL in one synced write (the journal undoes both).
  const last = new Map<string, VolumeMd>();
  if (snapshotOf && parentMd) last.set(snapshotOf.vol, { ...parentMd, VOLTYPE: "INTERNAL" });
  last.set(s.vol, { ...md, LEGALITY: "LEGAL" });
  await s.dom.writeVolumeMetas(s.img, last);
  st.mark("legal");
  st.done("createVolume");
  fault("createVolume.afterLegal");
}

/**
 * Deletes volumes of one image (deleteVolume), children first as given; rolls forward from a
 * crash (the recovery step removes the LV again). A parent left childless becomes the leaf.
 */
export async function deleteBlockVolumesJob(task: Task, dom: BlockDomain, img: string, volumes: readonly string[]): Promise<void> {
  for (const v of volumes) {
    const md = await dom.readVolumeMeta(img, v).catch(() => undefined);
    await task.push({ what: "finish removing the LV", action: "block.removeVolume", params: [dom.sdUUID, img, v] });
    if (md) await dom.writeVolumeMeta(img, v, { ...md, LEGALITY: "ILLEGAL" });
    await dom.removeVolumeArea(img, v);
    if (md && md.PUUID !== BLANK_UUID) {
      const rest = await imageVolumes(dom, img).catch(() => new Map<string, VolumeMd>());
      const pmd = rest.get(md.PUUID);
      if (pmd && pmd.VOLTYPE === "INTERNAL" && childrenOf(rest, md.PUUID).length === 0) await dom.writeVolumeMeta(img, md.PUUID, { ...pmd, VOLTYPE: "LEAF" });
    }
  }
}

/** deleteImage on a block domain: every volume ILLEGAL, then each LV renamed `_remove_me_` and removed. */
export async function deleteBlockImageJob(task: Task, dom: BlockDomain, img: string): Promise<void> {
  const st = steps(dom.env.log);
  const vols = await imageVolumes(dom, img);
  st.mark("read");
  await task.push(...[...vols.keys()].map((v) => ({ what: "finish removing the LV", action: "block.removeVolume", params: [dom.sdUUID, img, v] })));
  st.mark("journal");
  // Every volume ILLEGAL in one synced write before any LV is touched.
  await dom.writeVolumeMetas(img, new Map([...vols].map(([v, md]) => [v, { ...md, LEGALITY: "ILLEGAL" as const }])));
  st.mark("illegal");
  // All LVs in one lvremove (one commit), so a crash never leaves a child without its parent.
  await dom.removeVolumeAreas(img, [...vols.keys()], st);
  st.done("deleteImage");
}

/** getVolumeInfo on a block domain: sizes are the LV's, the lease is the volume's slot in `leases`. */
export async function blockVolumeInfo(dom: BlockDomain, img: string, vol: string): Promise<VolumeInfo> {
  const md = await dom.readVolumeMeta(img, vol);
  const size = await dom.volumeAreaSize(img, vol);
  const { slot } = await dom.volumeLv(img, vol);
  const vols = await imageVolumes(dom, img).catch(() => new Map<string, VolumeMd>());
  return {
    ...infoFromMeta(md, img, vol),
    apparentsize: String(size),
    truesize: String(size),
    status: md.LEGALITY === "ILLEGAL" ? "ILLEGAL" : "OK",
    lease: { path: dom.leasesPath(), offset: (LEASE_SLOT_BASE_MIB + slot) * MiB, owners: [], version: null },
    children: childrenOf(vols, vol),
  };
}

/** On SPM start: finishes deletes a crash interrupted (LVs tagged `IU__remove_me_<img>`). */
export async function collectBlockGarbage(dom: BlockDomain): Promise<string[]> {
  const purged: string[] = [];
  for (const lv of await dom.volumeLvs()) {
    const img = lv.tags.find((t) => t.startsWith(`IU_${REMOVED_IMAGE_PREFIX}`));
    if (!img) continue;
    await dom.removeVolumeLv(img.slice(3 + REMOVED_IMAGE_PREFIX.length), lv.name);
    purged.push(lv.name);
  }
  return purged;
}
