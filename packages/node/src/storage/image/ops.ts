/**
 * Image-level SPM operations on file domains, each a task body whose undo (or, where undo is
 * impossible, roll-forward) step is pushed and persisted before the change it covers:
 * deleteImage (rename to `_remove_me_<img>`, then purge), extendVolumeSize, copyImage (collapse a
 * chain into one volume, optionally a SHARED template volume), moveImage (copy a chain volume by
 * volume to another domain) and cold merge. Recovery steps are idempotent: a new SPM may run
 * them after a crash at any point. Never touches a volume another image is based on.
 */
import { BLANK_UUID, VdsmError } from "@vela/protocol";
import { chmod, mkdir, open, readdir, rename, rmdir, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../log.js";
import type { FileDomain } from "../domain/file.js";
import { REMOVED_PREFIX } from "../domain/file.js";
import { errno, exists, unlinkQuiet } from "../fileutil.js";
import { guardWrite } from "../spm/fence.js";
import { formatVolumeMd, type VolumeMd } from "../metadata.js";
import * as qemuimg from "../volume/qemuimg.js";
import type { Task } from "../task/task.js";
import { chainOf, childrenOf, fmtToImg, imageVolumes, LEASE_SIZE, readMeta, roundUp, VolumePaths, writeMeta } from "../volume/volume.js";

export type Fault = (point: string) => void;

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
export async function templateUsers(dom: FileDomain, img: string): Promise<string[]> {
  const shared = [...(await imageVolumes(dom, img))].filter(([, md]) => md.VOLTYPE === "SHARED" && md.IMAGE === img).map(([v]) => v);
  if (!shared.length) return [];
  const users: string[] = [];
  for (const other of await dom.listImages()) {
    if (other === img) continue;
    for (const v of shared) if (await exists(join(dom.imageDir(other), `${v}.meta`))) users.push(other);
  }
  return users;
}

export async function deleteImageJob(task: Task, dom: FileDomain, img: string, fault: Fault): Promise<void> {
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

async function resizeData(log: Logger, dom: FileDomain, img: string, vol: string, md: VolumeMd, cap: number): Promise<void> {
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

/** Finishes an extension whatever point it reached (the job body and its recovery step). */
export async function finishExtend(log: Logger, dom: FileDomain, img: string, vol: string, cap: number): Promise<void> {
  const md = await readMeta(dom, img, vol);
  await resizeData(log, dom, img, vol, md, cap);
  if (md.LEGALITY === "LEGAL" && md.CAP >= cap) return;
  await writeMeta(dom, img, vol, { ...md, CAP: Math.max(md.CAP, cap), LEGALITY: "LEGAL", GEN: (md.GEN + 1) % 1000 });
}

export async function extendJob(log: Logger, task: Task, dom: FileDomain, img: string, vol: string, cap: number, fault: Fault): Promise<void> {
  const md = await readMeta(dom, img, vol);
  await task.push({ what: "finish extension", action: "volume.finishExtend", params: [dom.sdUUID, img, vol, String(cap)] });
  await writeMeta(dom, img, vol, { ...md, LEGALITY: "ILLEGAL" });
  fault("extendVolumeSize.afterIllegal");
  await finishExtend(log, dom, img, vol, cap);
}

// ---------------------------------------------------------------- copyImage (collapse)

export interface CopySpec {
  src: FileDomain;
  srcImg: string;
  srcVol: string;
  dst: FileDomain;
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
  const p = await beginVolume(task, c.dst, c.dstImg, c.dstVol, md);
  fault("copyImage.afterBegin");
  const srcPath = c.src.volumePath(c.srcImg, c.srcVol);
  guardWrite(p.data, "convert");
  try {
    await qemuimg.convert(log, srcPath, fmtToImg(chain[0].md.FORMAT), p.data, fmtToImg(c.format), {
      preallocation: c.type === "PREALLOCATED" ? "falloc" : "off",
      onProgress: (pct) => {
        task.progress = pct;
      },
    });
    await chmod(p.data, 0o660);
  } catch (err) {
    throw new VdsmError("CopyImageError", (err as Error).message, { cause: err });
  }
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
export async function treeOf(dom: FileDomain, img: string): Promise<{ vol: string; md: VolumeMd }[]> {
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
export async function copyChainJob(log: Logger, task: Task, src: FileDomain, dst: FileDomain, img: string, fault: Fault): Promise<void> {
  const vols = await imageVolumes(src, img);
  const chain = await treeOf(src, img);
  for (const { vol, md } of chain) {
    if (md.LEGALITY !== "LEGAL") throw new VdsmError("ImageIsNotLegalChain", `${vol} is ${md.LEGALITY}`);
    if (md.IMAGE !== img) throw new VdsmError("MoveImageError", `${img} is based on template volume ${vol}; copy the template first`);
  }
  for (const { vol, md } of chain) {
    const p = await beginVolume(task, dst, img, vol, { ...md, DOMAIN: dst.sdUUID });
    const srcPath = src.volumePath(img, vol);
    const fmt = fmtToImg(md.FORMAT);
    const layer = fmt === "qcow2" ? `json:${JSON.stringify({ driver: "qcow2", backing: null, file: { driver: "file", filename: srcPath } })}` : srcPath;
    guardWrite(p.data, "convert");
    try {
      await qemuimg.convert(log, layer, fmt, p.data, fmt, {
        preallocation: md.TYPE === "PREALLOCATED" ? "falloc" : "off",
        onProgress: (pct) => {
          task.progress = pct;
        },
      });
      guardWrite(p.data, "rebase");
      if (md.PUUID !== BLANK_UUID) await qemuimg.rebaseUnsafe(log, p.data, { file: md.PUUID, format: fmtToImg(vols.get(md.PUUID)!.FORMAT) });
      await chmod(p.data, 0o660);
    } catch (err) {
      throw new VdsmError("MoveImageError", (err as Error).message, { cause: err });
    }
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
export async function finishMerge(log: Logger, dom: FileDomain, img: string, base: string, top: string, fault: Fault = () => {}): Promise<void> {
  const vols = await imageVolumes(dom, img);
  const bmd = vols.get(base);
  if (!bmd) throw new VdsmError("VolumeDoesNotExist", base);
  const tmd = vols.get(top);
  if (tmd) {
    const topPath = dom.volumePath(img, top);
    if (tmd.CAP > bmd.CAP) await resizeData(log, dom, img, base, bmd, tmd.CAP);
    guardWrite(topPath, "commit");
    await qemuimg.commit(log, topPath);
    fault("mergeSnapshots.afterCommit");
    for (const child of childrenOf(vols, top)) {
      guardWrite(dom.volumePath(img, child), "rebase");
      await qemuimg.rebaseUnsafe(log, dom.volumePath(img, child), { file: base, format: fmtToImg(bmd.FORMAT) });
      await writeMeta(dom, img, child, { ...vols.get(child)!, PUUID: base });
      fault("mergeSnapshots.afterRebase");
    }
    await writeMeta(dom, img, base, {
      ...bmd,
      CAP: Math.max(bmd.CAP, tmd.CAP),
      VOLTYPE: tmd.VOLTYPE,
      LEGALITY: "LEGAL",
      GEN: (bmd.GEN + 1) % 1000,
    });
    fault("mergeSnapshots.afterBase");
    const p = new VolumePaths(dom, img, top);
    await unlinkQuiet(p.data);
    await unlinkQuiet(p.lease);
    await unlinkQuiet(p.meta);
    return;
  }
  // Top already gone: make sure base is whole again.
  const kids = childrenOf(vols, base);
  const role = kids.length ? "INTERNAL" : "LEAF";
  if (bmd.LEGALITY !== "LEGAL" || bmd.VOLTYPE !== role) await writeMeta(dom, img, base, { ...bmd, LEGALITY: "LEGAL", VOLTYPE: role, GEN: (bmd.GEN + 1) % 1000 });
}

export async function mergeJob(log: Logger, task: Task, dom: FileDomain, img: string, base: string, top: string, fault: Fault): Promise<void> {
  await task.push({ what: "finish merge", action: "merge.finish", params: [dom.sdUUID, img, base, top] });
  const bmd = await readMeta(dom, img, base);
  // Base is about to hold top's data: it is not a valid snapshot on its own until the end.
  await writeMeta(dom, img, base, { ...bmd, LEGALITY: "ILLEGAL" });
  fault("mergeSnapshots.afterIllegal");
  await finishMerge(log, dom, img, base, top, fault);
  fault("mergeSnapshots.afterRemove");
}

export { roundUp };
