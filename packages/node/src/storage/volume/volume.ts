/**
 * File volumes: `<img dir>/<vol>` (data), `<vol>.meta` (v5 metadata), `<vol>.lease`. Creation,
 * metadata, info, chains and deletion, each as small steps that push their undo onto the task's
 * recovery stack. Never changes a volume's metadata except ILLEGAL → work → LEGAL with GEN+1, and
 * never deletes a volume another volume is based on (unless forced by the caller).
 */
import { BLANK_UUID, VdsmError, type VolumeInfo } from "@vela/protocol";
import { chmod, link, mkdir, open, readFile, readdir, rmdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "../../log.js";
import type { FileDomain } from "../domain/file.js";
import type { StorageDomain } from "../domain/driver.js";
import { guardWrite } from "../spm/fence.js";
import { errno, type StagedWrite, stageWrite, unlinkQuiet } from "../fileutil.js";
import { formatVolumeMd, type VolumeMd } from "../metadata.js";
import * as qemuimg from "./qemuimg.js";
import type { Task } from "../task/task.js";

const MiB = 2 ** 20;
/** Volume lease files are one alignment unit (1 MiB), sparse. */
export const LEASE_SIZE = MiB;
export const META_EXT = ".meta";
export const LEASE_EXT = ".lease";

export type VolFormat = "COW" | "RAW";
export type VolType = "PREALLOCATED" | "SPARSE";

export function fmtToImg(f: VolFormat): qemuimg.ImgFormat {
  return f === "COW" ? "qcow2" : "raw";
}

export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export class VolumePaths {
  readonly data: string;
  readonly meta: string;
  readonly lease: string;
  constructor(
    readonly dom: FileDomain,
    readonly img: string,
    readonly vol: string,
  ) {
    this.data = dom.volumePath(img, vol);
    this.meta = this.data + META_EXT;
    this.lease = this.data + LEASE_EXT;
  }
}

export async function readMeta(dom: StorageDomain, img: string, vol: string): Promise<VolumeMd> {
  return dom.readVolumeMeta(img, vol);
}

export async function writeMeta(dom: StorageDomain, img: string, vol: string, md: VolumeMd): Promise<void> {
  return dom.writeVolumeMeta(img, vol, md);
}

/** Read-modify-write of one volume's metadata (callers hold the image lock). */
export async function updateMeta(dom: StorageDomain, img: string, vol: string, change: Partial<VolumeMd>): Promise<VolumeMd> {
  const md = { ...(await readMeta(dom, img, vol)), ...change };
  await writeMeta(dom, img, vol, md);
  return md;
}

/** All volumes of an image with their metadata. */
export async function imageVolumes(dom: StorageDomain, img: string): Promise<Map<string, VolumeMd>> {
  const out = new Map<string, VolumeMd>();
  for (const v of await dom.listVolumes(img)) out.set(v, await readMeta(dom, img, v));
  return out;
}

/** Children of `vol` within its image. */
export function childrenOf(vols: Map<string, VolumeMd>, vol: string): string[] {
  return [...vols].filter(([, md]) => md.PUUID === vol).map(([id]) => id);
}

/** The chain leaf → base by following PUUID; refuses loops and missing parents. */
export async function chainOf(dom: StorageDomain, img: string, leaf: string): Promise<{ vol: string; md: VolumeMd }[]> {
  const out: { vol: string; md: VolumeMd }[] = [];
  const seen = new Set<string>();
  for (let v = leaf; v && v !== BLANK_UUID; ) {
    if (seen.has(v) || out.length > 256) throw new VdsmError("ImageIsNotLegalChain", `loop at ${v} in ${img}`);
    seen.add(v);
    const md = await readMeta(dom, img, v).catch((err) => {
      if (err instanceof VdsmError && err.errName === "VolumeDoesNotExist" && out.length) {
        throw new VdsmError("ImageIsNotLegalChain", `${out.at(-1)?.vol} names missing parent ${v} in ${img}`);
      }
      throw err;
    });
    out.push({ vol: v, md });
    v = md.PUUID;
  }
  return out;
}

export interface VolumeSize {
  apparentsize: number;
  truesize: number;
}

export async function volumeSize(dom: FileDomain, img: string, vol: string): Promise<VolumeSize> {
  try {
    const st = await stat(dom.volumePath(img, vol));
    return { apparentsize: st.size, truesize: st.blocks * 512 };
  } catch (err) {
    if (errno(err) === "ENOENT") throw new VdsmError("VolumeDoesNotExist", vol);
    throw err;
  }
}

/** The part of VDSM's getVolumeInfo that comes from a volume's metadata: the same on file and block domains. */
export function infoFromMeta(md: VolumeMd, img: string, vol: string) {
  return {
    uuid: vol,
    type: md.TYPE,
    format: md.FORMAT,
    disktype: md.DISKTYPE,
    voltype: md.VOLTYPE,
    capacity: String(md.CAP),
    parent: md.PUUID,
    description: md.DESCRIPTION,
    pool: "",
    domain: md.DOMAIN,
    image: img,
    ctime: String(md.CTIME),
    mtime: "0",
    legality: md.LEGALITY,
    generation: md.GEN,
    sequence: md.SEQ,
  };
}

/** VDSM's getVolumeInfo shape (sizes as decimal strings, as VDSM sent them over XML-RPC). */
export async function volumeInfo(dom: FileDomain, img: string, vol: string): Promise<VolumeInfo> {
  const md = await readMeta(dom, img, vol);
  // The sizes, the lease and the status as storage shows them; an unreadable file is INVALID.
  let sized: Pick<VolumeInfo, "apparentsize" | "truesize" | "status"> & { lease?: unknown };
  try {
    const sz = await volumeSize(dom, img, vol);
    sized = {
      apparentsize: String(sz.apparentsize),
      truesize: String(sz.truesize),
      status: "OK",
      lease: { path: new VolumePaths(dom, img, vol).lease, offset: 0, owners: [], version: null },
    };
  } catch {
    sized = { apparentsize: "0", truesize: "0", status: "INVALID" };
  }
  const vols = await imageVolumes(dom, img).catch(() => new Map<string, VolumeMd>());
  return {
    ...infoFromMeta(md, img, vol),
    ...sized,
    status: md.LEGALITY === "ILLEGAL" ? "ILLEGAL" : sized.status,
    children: childrenOf(vols, vol),
  };
}

export interface CreateSpec {
  dom: FileDomain;
  img: string;
  vol: string;
  capacity: number;
  format: VolFormat;
  type: VolType;
  diskType: string;
  desc: string;
  /** Parent volume (snapshot or template), already validated. */
  parent?: { img: string; vol: string; md: VolumeMd };
}

/** The data file. One qemu-img process for qcow2, none for sparse raw. */
async function createData(log: Logger, s: CreateSpec, path: string): Promise<void> {
  guardWrite(path, "create data");
  if (s.format === "COW") {
    await qemuimg.create(log, path, "qcow2", s.capacity, {
      backing: s.parent ? { file: s.parent.vol, format: fmtToImg(s.parent.md.FORMAT) } : undefined,
      preallocation: s.type === "PREALLOCATED" ? "falloc" : "off",
    });
    return;
  }
  if (s.type === "PREALLOCATED") {
    await qemuimg.create(log, path, "raw", s.capacity, { preallocation: "falloc" });
    return;
  }
  const fh = await open(path, "wx", 0o660);
  try {
    await fh.truncate(s.capacity);
  } finally {
    await fh.close();
  }
}

/**
 * The createVolume job. Order: image dir, .meta ILLEGAL, .lease, data (, share/parent updates),
 * .meta LEGAL. Each step's undo is pushed first so a crash at any point is rolled back.
 */
export async function createVolumeJob(
  log: Logger,
  task: Task,
  s: CreateSpec,
  fault: (point: string) => void,
): Promise<void> {
  const p = new VolumePaths(s.dom, s.img, s.vol);
  const sd = s.dom.sdUUID;
  const imgDir = dirname(p.data);
  // A snapshot turns its LEAF parent INTERNAL once the new leaf's data exists.
  const snapshotOf = s.parent && s.parent.img === s.img && s.parent.md.VOLTYPE === "LEAF" ? s.parent : undefined;
  // One persisted push before any change covers the image dir, all three volume files and the
  // parent's type; every undo step is idempotent (the parent is LEAF until this job changes it,
  // under the image lock), so they are safe whatever point a crash interrupts.
  await task.push(
    { what: "remove new image dir", action: "image.rmdirIfEmpty", params: [sd, s.img] },
    { what: "remove half-made volume", action: "volume.removeFiles", params: [sd, s.img, s.vol] },
    ...(snapshotOf ? [{ what: "parent back to LEAF", action: "volume.setVolType", params: [sd, s.img, snapshotOf.vol, "LEAF"] }] : []),
  );
  guardWrite(imgDir, "mkdir image");
  try {
    await mkdir(imgDir, { mode: 0o775 });
    await chmod(imgDir, 0o775);
  } catch (err) {
    if (errno(err) !== "EEXIST") throw new VdsmError("ImagePathError", `${imgDir}: ${(err as Error).message}`);
  }
  if (s.parent && s.parent.img !== s.img) {
    // Template: hard-link the shared volume's files into this image.
    const src = new VolumePaths(s.dom, s.parent.img, s.parent.vol);
    const dst = new VolumePaths(s.dom, s.img, s.parent.vol);
    await task.push({ what: "unlink template volume", action: "volume.removeFiles", params: [sd, s.img, s.parent.vol] });
    for (const [a, b] of [
      [src.data, dst.data],
      [src.meta, dst.meta],
      [src.lease, dst.lease],
    ] as const) {
      try {
        guardWrite(b, "link");
        await link(a, b);
      } catch (err) {
        if (errno(err) !== "EEXIST" && !(errno(err) === "ENOENT" && a === src.lease)) throw err;
      }
    }
  }
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
  // 'wx' on the .meta claims the volume id: a concurrent create of the same id fails here.
  guardWrite(p.meta, "create meta");
  const fh = await open(p.meta, "wx", 0o660).catch(async (err) => {
    if (errno(err) === "EEXIST") {
      // Not ours to remove: drop the undo step for the volume files.
      task.recoveries = task.recoveries.filter((r) => !(r.action === "volume.removeFiles" && r.params[2] === s.vol));
      await task.persist?.();
      throw new VdsmError("VolumeAlreadyExists", s.vol);
    }
    throw err;
  });
  // The data file (the one slow step, a qemu-img run) starts now and overlaps the small writes;
  // the rollback entry above already covers all three files whatever order they land in.
  const data = createData(log, s, p.data);
  // Mark the rejection handled now: it is awaited below, but if it fails while the small writes
  // are still pending (a write fence refusing a lost SPM term), Node would otherwise treat it as
  // unhandled and kill the agent.
  data.catch(() => {});
  let legal: StagedWrite | undefined;
  let internal: StagedWrite | undefined;
  try {
    try {
      await fh.chmod(0o660);
      await fh.writeFile(formatVolumeMd(md));
    } finally {
      await fh.close();
    }
    fault("createVolume.afterMeta");
    guardWrite(p.lease, "create lease");
    const lh = await open(p.lease, "w", 0o660);
    try {
      await lh.chmod(0o660);
      await lh.truncate(LEASE_SIZE);
    } finally {
      await lh.close();
    }
    // While qemu-img runs: write the LEGAL metadata and the finished task record aside, so
    // what follows the data file costs two renames.
    legal = await stageWrite(p.meta, formatVolumeMd({ ...md, LEGALITY: "LEGAL" }));
    if (snapshotOf) {
      const parentMd = await readMeta(s.dom, s.img, snapshotOf.vol);
      internal = await stageWrite(new VolumePaths(s.dom, s.img, snapshotOf.vol).meta, formatVolumeMd({ ...parentMd, VOLTYPE: "INTERNAL" }));
    }
    await task.prepareFinish?.();
  } catch (err) {
    // Never roll back while qemu-img may still be writing the data file.
    await data.catch(() => {});
    throw err;
  }
  try {
    await data;
  } catch (err) {
    throw new VdsmError("VolumeCreationError", `${s.vol}: ${(err as Error).message}`, { cause: err });
  }
  fault("createVolume.afterCreate");
  if (internal) {
    await internal.commit();
    fault("createVolume.afterParent");
  }
  await Promise.all([chmod(p.data, 0o660), legal ? legal.commit() : writeMeta(s.dom, s.img, s.vol, { ...md, LEGALITY: "LEGAL" })]);
  fault("createVolume.afterLegal");
}

/** Removes a volume's three files in this image (a template link only loses this image's names). */
export async function removeVolumeFiles(dom: FileDomain, img: string, vol: string): Promise<void> {
  const p = new VolumePaths(dom, img, vol);
  // .meta goes last: while any file is left, the volume stays visible (and ILLEGAL) to a checker.
  await unlinkQuiet(p.data);
  await unlinkQuiet(p.lease);
  await unlinkQuiet(p.meta);
  await unlinkQuiet(`${p.meta}.new`);
}

export async function rmdirIfEmpty(dir: string): Promise<void> {
  try {
    guardWrite(dir, "rmdir");
    if ((await readdir(dir)).length === 0) await rmdir(dir);
  } catch (err) {
    if (errno(err) !== "ENOENT") throw err;
  }
}
