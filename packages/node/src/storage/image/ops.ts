/**
 * Image-level SPM operations, each a task body whose undo (or, where undo is impossible,
 * roll-forward) step is pushed and persisted before the change it covers: deleteImage (file:
 * rename to `_remove_me_<img>`, then purge; block: block/volume.ts), extendVolumeSize, copyImage
 * (collapse a chain into one volume, optionally a SHARED template volume), moveImage (copy a
 * chain volume by volume to another domain) and cold merge. They work on any driver: qemu-img
 * reaches a volume through `useVolume` (file: the data file; block: the LV's device linked in the
 * image directory, torn down again if the job activated it), a new volume on a block domain is an
 * LV sized for what it will hold (block/volume.ts's rules), and a block volume that must hold
 * more grows in place first. Copies between a file and a block domain work both ways. Recovery
 * steps are idempotent: a new SPM may run them after a crash at any point. Never touches a volume
 * another image is based on.
 */
import { BLANK_UUID, VdsmError } from "@vela/protocol";
import { chmod, mkdir, open, readdir, rename, rmdir, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../log.js";
import { BlockDomain } from "../domain/block.js";
import type { StorageDomain } from "../domain/driver.js";
import { FileDomain, REMOVED_PREFIX } from "../domain/file.js";
import { chunkBytes, deleteBlockImageJob } from "../block/volume.js";
import { errno, exists, unlinkQuiet } from "../fileutil.js";
import { guardWrite } from "../spm/fence.js";
import { formatVolumeMd, type VolumeMd } from "../metadata.js";
import * as qemuimg from "../volume/qemuimg.js";
import type { Task } from "../task/task.js";
import { chainOf, childrenOf, fmtToImg, imageVolumes, LEASE_SIZE, readMeta, roundUp, VolumePaths, writeMeta } from "../volume/volume.js";

export type Fault = (point: string) => void;

// ---------------------------------------------------------------- volumes for qemu-img, any driver

/** A volume's data for qemu-img during a job, and how to give it back. */
export interface InUse {
  path: string;
  /** The protocol driver QEMU needs in a `json:` filename for this path. */
  protocol: "file" | "host_device";
  release(): Promise<void>;
}

/**
 * File: the data file. Block: the LV's device, linked beside its image's other volumes (so bare
 * backing names resolve); `release` tears it down only if this job activated it (a VM or another
 * job may be using it).
 */
export async function useVolume(dom: StorageDomain, img: string, vol: string): Promise<InUse> {
  if (dom instanceof FileDomain) return { path: dom.volumePath(img, vol), protocol: "file", release: async () => {} };
  if (!(dom instanceof BlockDomain)) throw new VdsmError("StorageDomainTypeError", `${dom.sdUUID}: no data path for driver ${dom.driver}`);
  const wasActive = await dom.isActive(vol);
  const path = await dom.prepareVolume(img, vol);
  return { path, protocol: "host_device", release: async () => (wasActive ? undefined : dom.teardownVolume(img, vol)) };
}

/** Several volumes at once (a chain: every backing file reachable); released in reverse. */
async function useAll<T>(dom: StorageDomain, img: string, vols: string[], fn: (paths: Map<string, InUse>) => Promise<T>): Promise<T> {
  const held = new Map<string, InUse>();
  try {
    for (const v of vols) held.set(v, await useVolume(dom, img, v));
    return await fn(held);
  } finally {
    for (const u of [...held.values()].reverse()) await u.release().catch(() => {});
  }
}

/** LV bytes a new block volume needs to hold `required` bytes of image data (qemu-img measure). */
export function blockBytesFor(md: Pick<VolumeMd, "FORMAT" | "TYPE" | "CAP">, required: number): number {
  if (md.FORMAT === "RAW") return md.CAP;
  const full = Math.ceil(md.CAP * 1.1);
  // A thin volume gets one chunk of room to grow in beyond what it holds, as a new one starts with.
  return md.TYPE === "PREALLOCATED" ? full : Math.max(1, Math.min(full, required + chunkBytes()));
}

/** Refuses a volume a block domain cannot hold (an LV has no holes to be sparse with). */
export function checkBlockTarget(dst: StorageDomain, md: Pick<VolumeMd, "FORMAT" | "TYPE">, what: string): void {
  if (dst instanceof BlockDomain && md.FORMAT === "RAW" && md.TYPE === "SPARSE") {
    throw new VdsmError("IncorrectType", `${what}: RAW SPARSE volumes cannot live on block domain ${dst.sdUUID} (copy as COW, or preallocated)`);
  }
}

// ---------------------------------------------------------------- deleteImage

export function removedDir(dom: FileDomain, img: string): string {
  return join(dom.imagesDir(), `${REMOVED_PREFIX}${img}`);
}

/** Removes a renamed-away image directory and everything in it (repeatable). */
export async function purgeRemoved(dom: FileDomain, img: string): Promise<void> {
  const dir = removedDir(dom, img);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errno(err) === "ENOENT") return;
    throw err;
  }
  for (const n of names) await unlinkQuiet(join(dir, n));
  guardWrite(dir, "rmdir");
  await rmdir(dir).catch((err) => {
    if (errno(err) !== "ENOENT") throw err;
  });
}

/** Purges every `_remove_me_*` left by an interrupted delete (VDSM's image garbage collector). */
export async function collectGarbage(dom: FileDomain): Promise<string[]> {
  const done: string[] = [];
  for (const n of await readdir(dom.imagesDir()).catch(() => [] as string[])) {
    if (!n.startsWith(REMOVED_PREFIX)) continue;
    const img = n.slice(REMOVED_PREFIX.length);
    if (!/^[0-9a-f-]{36}$/.test(img)) continue;
    await purgeRemoved(dom, img);
    done.push(img);
  }
  return done;
}

/** Volumes of other images that are based on one of `img`'s shared (template) volumes. */
export async function templateUsers(dom: StorageDomain, img: string): Promise<string[]> {
  // Block domains hold no template links (createVolume refuses a parent in another image there).
  if (!(dom instanceof FileDomain)) return [];
  const shared = [...(await imageVolumes(dom, img))].filter(([, md]) => md.VOLTYPE === "SHARED" && md.IMAGE === img).map(([v]) => v);
  if (!shared.length) return [];
  const users: string[] = [];
  for (const other of await dom.listImages()) {
    if (other === img) continue;
    for (const v of shared) if (await exists(join(dom.imageDir(other), `${v}.meta`))) users.push(other);
  }
  return users;
}

export async function deleteImageJob(task: Task, dom: StorageDomain, img: string, fault: Fault): Promise<void> {
  if (dom instanceof BlockDomain) return deleteBlockImageJob(task, dom, img);
  if (!(dom instanceof FileDomain)) throw new VdsmError("StorageDomainTypeError", dom.sdUUID);
  // Roll-forward: once renamed, the image is gone for everyone; the purge just finishes it.
  await task.push({ what: "purge removed image", action: "image.purge", params: [dom.sdUUID, img] });
  fault("deleteImage.beforeRename");
  guardWrite(dom.imageDir(img), "rename image for removal");
  try {
    await rename(dom.imageDir(img), removedDir(dom, img));
  } catch (err) {
    if (errno(err) === "ENOENT" && (await exists(removedDir(dom, img)))) {
      // A retried delete: the rename already happened.
    } else throw new VdsmError("ImageDeleteError", `${img}: ${(err as Error).message}`);
  }
  fault("deleteImage.afterRename");
  await purgeRemoved(dom, img);
}

// ---------------------------------------------------------------- extendVolumeSize

/**
 * Grows a volume's data to `cap`. `live`: a running VM has it open and its QEMU grows the image
 * itself (block_resize, VM.diskSizeExtend); here only the room under it grows (a block LV), never
 * the image (qemu-img on an image QEMU writes would fail on its lock, or corrupt it on a device).
 */
async function resizeData(log: Logger, dom: StorageDomain, img: string, vol: string, md: VolumeMd, cap: number, live: boolean): Promise<void> {
  if (dom instanceof BlockDomain) return resizeBlockData(log, dom, img, vol, md, cap, live);
  if (!(dom instanceof FileDomain)) throw new VdsmError("StorageDomainTypeError", dom.sdUUID);
  if (live) return;
  const path = dom.volumePath(img, vol);
  if (md.FORMAT === "COW") {
    const cur = (await qemuimg.info(log, path, "qcow2"))["virtual-size"];
    guardWrite(path, "resize");
    if (cur < cap) await qemuimg.resize(log, path, "qcow2", cap);
    return;
  }
  const cur = (await stat(path)).size;
  if (cur >= cap) return;
  guardWrite(path, "resize");
  if (md.TYPE === "PREALLOCATED") await qemuimg.resize(log, path, "raw", cap, "falloc");
  else await truncate(path, cap);
}

/**
 * Block: a raw LV grows (in place) to the capacity, a preallocated qcow2 LV to capacity × 1.1, a
 * thin one keeps its LV (it grows as it is written); a qcow2 volume's virtual size grows on its
 * device. Refused, nothing changed, when the LV cannot grow in place (block.ts).
 */
async function resizeBlockData(log: Logger, dom: BlockDomain, img: string, vol: string, md: VolumeMd, cap: number, live: boolean): Promise<void> {
  if (md.FORMAT === "RAW") {
    await dom.extendVolumeArea(img, vol, cap);
    return;
  }
  if (md.TYPE === "PREALLOCATED") await dom.extendVolumeArea(img, vol, Math.ceil(cap * 1.1));
  if (live) return;
  const u = await useVolume(dom, img, vol);
  try {
    const cur = (await qemuimg.info(log, u.path, "qcow2"))["virtual-size"];
    guardWrite(u.path, "resize");
    if (cur < cap) await qemuimg.resize(log, u.path, "qcow2", cap);
  } finally {
    await u.release();
  }
}

/** Finishes an extension whatever point it reached (the job body and its recovery step). */
export async function finishExtend(log: Logger, dom: StorageDomain, img: string, vol: string, cap: number, live = false): Promise<void> {
  const md = await readMeta(dom, img, vol);
  await resizeData(log, dom, img, vol, md, cap, live);
  if (md.LEGALITY === "LEGAL" && md.CAP >= cap) return;
  await writeMeta(dom, img, vol, { ...md, CAP: Math.max(md.CAP, cap), LEGALITY: "LEGAL", GEN: (md.GEN + 1) % 1000 });
}

export async function extendJob(log: Logger, task: Task, dom: StorageDomain, img: string, vol: string, cap: number, fault: Fault, live = false): Promise<void> {
  const md = await readMeta(dom, img, vol);
  await task.push({ what: "finish extension", action: "volume.finishExtend", params: [dom.sdUUID, img, vol, String(cap), live ? "live" : "offline"] });
  // Live, the volume stays LEGAL: a VM is using it (ILLEGAL would stop its next extension and
  // prepare); the capacity is only raised once the room under it is there.
  if (!live) await writeMeta(dom, img, vol, { ...md, LEGALITY: "ILLEGAL" });
  fault("extendVolumeSize.afterIllegal");
  await finishExtend(log, dom, img, vol, cap, live);
}

// ---------------------------------------------------------------- copyImage (collapse)

export interface CopySpec {
  src: StorageDomain;
  srcImg: string;
  srcVol: string;
  dst: StorageDomain;
  dstImg: string;
  dstVol: string;
  desc: string;
  voltype: "SHARED" | "LEAF";
  format: "COW" | "RAW";
  type: "PREALLOCATED" | "SPARSE";
  capacity: number;
  diskType: string;
}

/** Makes a new volume's directory, ILLEGAL .meta and .lease; the caller fills the data. */
async function beginVolume(task: Task, dom: FileDomain, img: string, vol: string, md: VolumeMd): Promise<VolumePaths> {
  await task.push(
    { what: "remove new image dir", action: "image.rmdirIfEmpty", params: [dom.sdUUID, img] },
    { what: "remove half-made volume", action: "volume.removeFiles", params: [dom.sdUUID, img, vol] },
  );
  const p = new VolumePaths(dom, img, vol);
  guardWrite(dom.imageDir(img), "mkdir image");
  try {
    await mkdir(dom.imageDir(img), { mode: 0o775 });
    await chmod(dom.imageDir(img), 0o775);
  } catch (err) {
    if (errno(err) !== "EEXIST") throw new VdsmError("ImagePathError", `${img}: ${(err as Error).message}`);
  }
  guardWrite(p.meta, "create meta");
  const fh = await open(p.meta, "wx", 0o660).catch(async (err) => {
    if (errno(err) === "EEXIST") {
      task.recoveries = task.recoveries.filter((r) => !(r.action === "volume.removeFiles" && r.params[2] === vol));
      await task.persist?.();
      throw new VdsmError("VolumeAlreadyExists", vol);
    }
    throw err;
  });
  try {
    await fh.chmod(0o660);
    await fh.writeFile(formatVolumeMd({ ...md, LEGALITY: "ILLEGAL" }));
  } finally {
    await fh.close();
  }
  guardWrite(p.lease, "create lease");
  const lh = await open(p.lease, "w", 0o660);
  try {
    await lh.chmod(0o660);
    await lh.truncate(LEASE_SIZE);
  } finally {
    await lh.close();
  }
  return p;
}

/**
 * A new volume on any driver, ILLEGAL, ready for qemu-img to write: file → beginVolume (the data
 * file is made by the copy); block → an LV of `blockBytes()` bytes (asked only for block, as it
 * may need a qemu-img measure) with its slot, and its device.
 */
async function beginTarget(task: Task, dom: StorageDomain, img: string, vol: string, md: VolumeMd, blockBytes: () => Promise<number>): Promise<InUse> {
  if (dom instanceof FileDomain) {
    const p = await beginVolume(task, dom, img, vol, md);
    // After a failed copy the data file may not exist: the copy's own error is the one to report.
    const release = () =>
      chmod(p.data, 0o660).catch((err) => {
        if (errno(err) !== "ENOENT") throw err;
      });
    return { path: p.data, protocol: "file", release };
  }
  if (!(dom instanceof BlockDomain)) throw new VdsmError("StorageDomainTypeError", dom.sdUUID);
  await task.push({ what: "remove half-made LV", action: "block.removeVolume", params: [dom.sdUUID, img, vol] });
  try {
    await dom.createVolumeWithMeta(img, vol, md.PUUID, await blockBytes(), { ...md, LEGALITY: "ILLEGAL" });
  } catch (err) {
    if (err instanceof VdsmError && err.errName === "VolumeAlreadyExists") {
      // Not ours to remove.
      task.recoveries = task.recoveries.filter((r) => !(r.action === "block.removeVolume" && r.params[2] === vol));
      await task.persist?.();
    }
    throw err;
  }
  const path = await dom.prepareVolume(img, vol);
  return { path, protocol: "host_device", release: () => dom.teardownVolume(img, vol) };
}

export async function copyJob(log: Logger, task: Task, c: CopySpec, fault: Fault): Promise<void> {
  const chain = await chainOf(c.src, c.srcImg, c.srcVol);
  for (const { vol, md } of chain) if (md.LEGALITY !== "LEGAL") throw new VdsmError("ImageIsNotLegalChain", `${vol} is ${md.LEGALITY}`);
  const md: VolumeMd = {
    CAP: c.capacity,
    CTIME: Math.floor(Date.now() / 1000),
    DESCRIPTION: c.desc,
    DISKTYPE: c.diskType,
    DOMAIN: c.dst.sdUUID,
    FORMAT: c.format,
    GEN: 0,
    IMAGE: c.dstImg,
    LEGALITY: "ILLEGAL",
    PUUID: BLANK_UUID,
    SEQ: 0,
    TYPE: c.type,
    VOLTYPE: c.voltype,
  };
  // The source chain stays prepared (every backing file reachable) for the whole copy.
  await useAll(c.src, c.srcImg, chain.map((x) => x.vol), async (src) => {
    const srcPath = src.get(c.srcVol)!.path;
    const srcFmt = fmtToImg(chain[0].md.FORMAT);
    const dst = await beginTarget(task, c.dst, c.dstImg, c.dstVol, md, async () => blockBytesFor(md, await qemuimg.measure(log, srcPath, srcFmt, fmtToImg(c.format))));
    fault("copyImage.afterBegin");
    guardWrite(dst.path, "convert");
    try {
      await qemuimg.convert(log, srcPath, srcFmt, dst.path, fmtToImg(c.format), {
        // An LV is allocated already: nothing to preallocate on a device.
        preallocation: c.type === "PREALLOCATED" && dst.protocol === "file" ? "falloc" : "off",
        onProgress: (pct) => {
          task.progress = pct;
        },
      });
    } catch (err) {
      throw new VdsmError("CopyImageError", (err as Error).message, { cause: err });
    } finally {
      await dst.release();
    }
  });
  fault("copyImage.afterCopy");
  await writeMeta(c.dst, c.dstImg, c.dstVol, { ...md, LEGALITY: "LEGAL" });
  fault("copyImage.afterLegal");
}

// ---------------------------------------------------------------- moveImage (copy chain volume by volume)

/**
 * The volumes of an image, parents before children. An image is a tree when it has branches
 * (a snapshot in preview: two leaves on one INTERNAL volume); every leaf's chain is walked, so
 * a loop or a missing parent is refused, and a volume shared by two chains is listed once.
 */
export async function treeOf(dom: StorageDomain, img: string): Promise<{ vol: string; md: VolumeMd }[]> {
  const vols = await imageVolumes(dom, img);
  const leaves = [...vols].filter(([, m]) => m.VOLTYPE === "LEAF").map(([v]) => v);
  if (!leaves.length) throw new VdsmError("ImageIsNotLegalChain", `${img} has no leaf`);
  const depth = new Map<string, { vol: string; md: VolumeMd; depth: number }>();
  for (const leaf of leaves) {
    const chain = (await chainOf(dom, img, leaf)).reverse(); // base first
    for (const [i, c] of chain.entries()) depth.set(c.vol, { ...c, depth: i });
  }
  const stray = [...vols.keys()].filter((v) => !depth.has(v));
  if (stray.length) throw new VdsmError("ImageIsNotLegalChain", `${img}: ${stray.join(",")} on no leaf's chain`);
  return [...depth.values()].sort((a, b) => a.depth - b.depth || a.vol.localeCompare(b.vol));
}

/**
 * Copies every volume of `img` to `dst`, keeping the chains: each layer alone (its backing
 * detached while reading), then its backing name set back to the parent's bare UUID. An image
 * with branches is copied whole (all its leaves), parents first.
 */
export async function copyChainJob(log: Logger, task: Task, src: StorageDomain, dst: StorageDomain, img: string, fault: Fault): Promise<void> {
  const vols = await imageVolumes(src, img);
  const chain = await treeOf(src, img);
  for (const { vol, md } of chain) {
    if (md.LEGALITY !== "LEGAL") throw new VdsmError("ImageIsNotLegalChain", `${vol} is ${md.LEGALITY}`);
    if (md.IMAGE !== img) throw new VdsmError("MoveImageError", `${img} is based on template volume ${vol}; copy the template first`);
    checkBlockTarget(dst, md, `volume ${vol}`);
  }
  for (const { vol, md } of chain) {
    const fmt = fmtToImg(md.FORMAT);
    await useAll(src, img, [vol], async (held) => {
      const from = held.get(vol)!;
      const layer = fmt === "qcow2" ? `json:${JSON.stringify({ driver: "qcow2", backing: null, file: { driver: from.protocol, filename: from.path } })}` : from.path;
      const dmd = { ...md, DOMAIN: dst.sdUUID };
      const to = await beginTarget(task, dst, img, vol, dmd, async () => blockBytesFor(dmd, await qemuimg.measure(log, layer, fmt, fmt)));
      guardWrite(to.path, "convert");
      try {
        await qemuimg.convert(log, layer, fmt, to.path, fmt, {
          preallocation: md.TYPE === "PREALLOCATED" && to.protocol === "file" ? "falloc" : "off",
          onProgress: (pct) => {
            task.progress = pct;
          },
        });
        guardWrite(to.path, "rebase");
        if (md.PUUID !== BLANK_UUID) await qemuimg.rebaseUnsafe(log, to.path, { file: md.PUUID, format: fmtToImg(vols.get(md.PUUID)!.FORMAT) });
      } catch (err) {
        throw new VdsmError("MoveImageError", (err as Error).message, { cause: err });
      } finally {
        await to.release();
      }
    });
    await writeMeta(dst, img, vol, { ...md, DOMAIN: dst.sdUUID, LEGALITY: "LEGAL" });
    fault("moveImage.afterVolume");
  }
}

// ---------------------------------------------------------------- cold merge

/**
 * Commits `top` into its parent `base` and takes `top` out of the chain: base grows to top's
 * capacity, top's child (if any) is rebased onto base, base takes top's role (LEAF or INTERNAL),
 * top's files go. Repeatable from any point, so it is both the job and its recovery step.
 */
export async function finishMerge(log: Logger, dom: StorageDomain, img: string, base: string, top: string, fault: Fault = () => {}): Promise<void> {
  const vols = await imageVolumes(dom, img);
  const bmd = vols.get(base);
  if (!bmd) throw new VdsmError("VolumeDoesNotExist", base);
  const tmd = vols.get(top);
  if (tmd) {
    const kids = childrenOf(vols, top);
    if (dom instanceof BlockDomain && bmd.FORMAT === "COW") {
      // Base must have room for top's data: grow its LV in place by what top holds, up to the
      // most a qcow2 of that capacity can need (refused, nothing changed, if it cannot grow).
      const want = Math.min(Math.ceil(Math.max(bmd.CAP, tmd.CAP) * 1.1), (await dom.volumeAreaSize(img, base)) + (await dom.volumeAreaSize(img, top)));
      await dom.extendVolumeArea(img, base, want);
    }
    if (tmd.CAP > bmd.CAP) await resizeData(log, dom, img, base, bmd, tmd.CAP, false);
    await useAll(dom, img, [base, top, ...kids], async (held) => {
      const topPath = held.get(top)!.path;
      guardWrite(topPath, "commit");
      await qemuimg.commit(log, topPath);
      fault("mergeSnapshots.afterCommit");
      for (const child of kids) {
        const childPath = held.get(child)!.path;
        guardWrite(childPath, "rebase");
        await qemuimg.rebaseUnsafe(log, childPath, { file: base, format: fmtToImg(bmd.FORMAT) });
        await writeMeta(dom, img, child, { ...vols.get(child)!, PUUID: base });
        fault("mergeSnapshots.afterRebase");
      }
    });
    if (dom instanceof BlockDomain) await syncParentTags(dom, img, base);
    await writeMeta(dom, img, base, {
      ...bmd,
      CAP: Math.max(bmd.CAP, tmd.CAP),
      VOLTYPE: tmd.VOLTYPE,
      LEGALITY: "LEGAL",
      GEN: (bmd.GEN + 1) % 1000,
    });
    fault("mergeSnapshots.afterBase");
    if (dom instanceof FileDomain) {
      const p = new VolumePaths(dom, img, top);
      await unlinkQuiet(p.data);
      await unlinkQuiet(p.lease);
      await unlinkQuiet(p.meta);
    } else await dom.removeVolumeArea(img, top);
    return;
  }
  // Top already gone: make sure base is whole again.
  if (dom instanceof BlockDomain) await syncParentTags(dom, img, base);
  const kids = childrenOf(vols, base);
  const role = kids.length ? "INTERNAL" : "LEAF";
  if (bmd.LEGALITY !== "LEGAL" || bmd.VOLTYPE !== role) await writeMeta(dom, img, base, { ...bmd, LEGALITY: "LEGAL", VOLTYPE: role, GEN: (bmd.GEN + 1) % 1000 });
}

/** Block: the PU_ tag of every LV whose metadata names `parent` says so too (the checker compares them). */
async function syncParentTags(dom: BlockDomain, img: string, parent: string): Promise<void> {
  for (const [v, md] of await imageVolumes(dom, img)) if (md.PUUID === parent) await dom.setParentTag(img, v, parent);
}

export async function mergeJob(log: Logger, task: Task, dom: StorageDomain, img: string, base: string, top: string, fault: Fault): Promise<void> {
  await task.push({ what: "finish merge", action: "merge.finish", params: [dom.sdUUID, img, base, top] });
  const bmd = await readMeta(dom, img, base);
  // Base is about to hold top's data: it is not a valid snapshot on its own until the end.
  await writeMeta(dom, img, base, { ...bmd, LEGALITY: "ILLEGAL" });
  fault("mergeSnapshots.afterIllegal");
  await finishMerge(log, dom, img, base, top, fault);
  fault("mergeSnapshots.afterRemove");
}

export { roundUp };
