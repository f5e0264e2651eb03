/**
 * A file storage domain (LOCALFS, NFS, POSIXFS) in VDSM's layout:
 * `<mount>/<sdUUID>/dom_md/{metadata,ids,leases,inbox,outbox[,xleases]}` and
 * `<mount>/<sdUUID>/images/<imgUUID>/<volUUID>{,.meta,.lease}`. Owns reading and sealing the domain
 * metadata. Never writes the metadata except through `update` (one writer at a time, atomic
 * replace), and never builds a path from anything but validated UUIDs.
 */
import { ISO_IMAGE_UUID, UUID_RE, VdsmError } from "@vela/protocol";
import { randomUUID } from "node:crypto";
import { chmod, mkdir, open, readdir, readFile, rm, rmdir, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { atomicWrite, errno, exists } from "../fileutil.js";
import { type Md, formatDomainMd, formatVolumeMd, newDomainMd, parseDomainMd, parseVolumeMd, type VolumeMd } from "../metadata.js";
import { Mutex } from "../sync.js";
import type { StorageDomain } from "./driver.js";

export const DOM_MD = "dom_md";
export const IMAGES = "images";
export const MASTER = "master";
export const REMOVED_PREFIX = "_remove_me_";
const MiB = 2 ** 20;

export interface CreateDomainArgs {
  mountPoint: string;
  sdUUID: string;
  name: string;
  remotePath: string;
  type: "NFS" | "LOCALFS" | "POSIXFS" | "GLUSTERFS" | "CIFS";
  domClass: "Data" | "Iso" | "Backup";
  version: number;
  blockSize: number;
}

export class FileDomain implements StorageDomain {
  readonly driver = "file" as const;
  readonly dir: string;
  readonly mdDir: string;
  readonly mdPath: string;
  private readonly mdLock = new Mutex();
  private cached: { ino: number; size: number; mtimeMs: number; md: Md } | undefined;

  constructor(
    readonly sdUUID: string,
    readonly mountPoint: string,
  ) {
    this.dir = join(mountPoint, sdUUID);
    this.mdDir = join(this.dir, DOM_MD);
    this.mdPath = join(this.mdDir, "metadata");
  }

  /** Lays out a new domain. Refuses a mount point that already holds a domain. */
  static async create(a: CreateDomainArgs): Promise<FileDomain> {
    const others = (await readdir(a.mountPoint)).filter((n) => UUID_RE.test(n));
    if (others.length) throw new VdsmError("StorageDomainNotEmpty", `${a.mountPoint} holds ${others.join(",")}`);
    const d = new FileDomain(a.sdUUID, a.mountPoint);
    try {
      // Explicit chmod: the modes VDSM uses, whatever this process's umask.
      for (const dir of [d.dir, d.mdDir, join(d.dir, IMAGES)]) {
        await mkdir(dir, { mode: 0o775 });
        await chmod(dir, 0o775);
      }
      const specials: [string, number][] = [
        ["ids", 0],
        ["leases", 0],
        ["inbox", 16 * MiB],
        ["outbox", 16 * MiB],
      ];
      if (a.version >= 4 && a.type !== "LOCALFS") specials.push(["xleases", 0]);
      for (const [name, size] of specials) {
        const fh = await open(join(d.mdDir, name), "wx", 0o660);
        await fh.chmod(0o660);
        if (size) await fh.truncate(size);
        await fh.close();
      }
      const md: Md = {
        ...newDomainMd(a),
        REMOTE_PATH: a.remotePath,
      };
      if (a.version > 4) {
        md.ALIGNMENT = String(MiB);
        md.BLOCK_SIZE = String(a.blockSize);
      }
      await atomicWrite(d.mdPath, formatDomainMd(md), { durable: true });
      return d;
    } catch (err) {
      if (err instanceof VdsmError) throw err;
      if (errno(err) === "EEXIST") throw new VdsmError("StorageDomainAlreadyExists", a.sdUUID);
      throw new VdsmError("StorageDomainMetadataCreationError", `${a.sdUUID}: ${(err as Error).message}`);
    }
  }

  /**
   * Reads and verifies the metadata. The parsed copy is reused while the file's identity (inode,
   * size, mtime) is unchanged: every writer replaces the file by rename, so any change shows in
   * stat. Callers that must see another host's write through NFS attribute caching (connect,
   * spmStart) pass `fresh`.
   */
  async metadata(opts: { fresh?: boolean } = {}): Promise<Md> {
    if (!opts.fresh && this.cached) {
      const st = await stat(this.mdPath).catch(() => undefined);
      if (st && st.ino === this.cached.ino && st.size === this.cached.size && st.mtimeMs === this.cached.mtimeMs) return { ...this.cached.md };
    }
    let text: string;
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.mdPath);
      text = await readFile(this.mdPath, "latin1");
    } catch (err) {
      if (errno(err) === "ENOENT") throw new VdsmError("StorageDomainMetadataNotFound", this.sdUUID);
      throw new VdsmError("StorageDomainAccessError", `${this.sdUUID}: ${(err as Error).message}`);
    }
    // latin1 keeps bytes; re-decode as UTF-8 for non-ASCII descriptions.
    const md = parseDomainMd(Buffer.from(text, "latin1").toString("utf8"), `metadata of ${this.sdUUID}`).md;
    if (md.SDUUID && md.SDUUID !== this.sdUUID) throw new VdsmError("MetaDataValidationError", `${this.mdPath} is for ${md.SDUUID}`);
    this.cached = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, md: { ...md } };
    return md;
  }

  /** Read-modify-write of the metadata under the domain's writer lock; null deletes a key. */
  async update(changes: Record<string, string | null>): Promise<Md> {
    return this.mdLock.run(async () => {
      const md = await this.metadata({ fresh: true });
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete md[k];
        else md[k] = v;
      }
      await atomicWrite(this.mdPath, formatDomainMd(md), { durable: true });
      return md;
    });
  }

  async present(): Promise<boolean> {
    return exists(this.mdPath);
  }

  /** `<vol>.meta` beside the data file. */
  async readVolumeMeta(imgUUID: string, volUUID: string): Promise<VolumeMd> {
    let text: string;
    try {
      text = await readFile(`${this.volumePath(imgUUID, volUUID)}.meta`, "utf8");
    } catch (err) {
      if (errno(err) === "ENOENT") throw new VdsmError("VolumeDoesNotExist", `${volUUID} in image ${imgUUID} of ${this.sdUUID}`);
      throw new VdsmError("VolumeMetadataReadError", `${volUUID}: ${(err as Error).message}`);
    }
    return parseVolumeMd(text, `metadata of volume ${volUUID}`);
  }

  /** Written aside and renamed over the old `.meta`: readers see the old or the new, never half. */
  async writeVolumeMeta(imgUUID: string, volUUID: string, md: VolumeMd): Promise<void> {
    try {
      await atomicWrite(`${this.volumePath(imgUUID, volUUID)}.meta`, formatVolumeMd(md));
    } catch (err) {
      if (err instanceof VdsmError) throw err;
      throw new VdsmError("VolumeMetadataWriteError", `${volUUID}: ${(err as Error).message}`);
    }
  }

  async createVolumeArea(imgUUID: string, volUUID: string, _parentUUID: string, bytes: number): Promise<void> {
    const dir = this.imageDir(imgUUID);
    await mkdir(dir, { mode: 0o775 }).catch((err) => {
      if (errno(err) !== "EEXIST") throw err;
    });
    await chmod(dir, 0o775);
    const data = this.volumePath(imgUUID, volUUID);
    // 'wx' on the .meta claims the id, as createVolumeJob does.
    const meta = await open(`${data}.meta`, "wx", 0o660).catch((err) => {
      if (errno(err) === "EEXIST") throw new VdsmError("VolumeAlreadyExists", volUUID);
      throw err;
    });
    await meta.close();
    for (const [path, size] of [
      [`${data}.lease`, MiB],
      [data, bytes],
    ] as const) {
      const fh = await open(path, "w", 0o660);
      try {
        await fh.truncate(size);
      } finally {
        await fh.close();
      }
    }
  }

  async removeVolumeArea(imgUUID: string, volUUID: string): Promise<void> {
    const data = this.volumePath(imgUUID, volUUID);
    // .meta last: while any file is left the volume stays visible to a checker.
    for (const p of [data, `${data}.lease`, `${data}.meta`, `${data}.meta.new`]) await rm(p, { force: true });
    await rmdir(this.imageDir(imgUUID)).catch(() => {});
  }

  async prepareVolume(imgUUID: string, volUUID: string): Promise<string> {
    const p = this.volumePath(imgUUID, volUUID);
    if (!(await exists(p))) throw new VdsmError("VolumeDoesNotExist", `${volUUID} in image ${imgUUID} of ${this.sdUUID}`);
    return p;
  }

  async teardownVolume(): Promise<void> {}

  async volumeAreaSize(imgUUID: string, volUUID: string): Promise<number> {
    try {
      return (await stat(this.volumePath(imgUUID, volUUID))).size;
    } catch (err) {
      if (errno(err) === "ENOENT") throw new VdsmError("VolumeDoesNotExist", volUUID);
      throw err;
    }
  }

  imagesDir(): string {
    return join(this.dir, IMAGES);
  }
  imageDir(imgUUID: string): string {
    return join(this.dir, IMAGES, imgUUID);
  }
  volumePath(imgUUID: string, volUUID: string): string {
    return join(this.dir, IMAGES, imgUUID, volUUID);
  }
  masterDir(): string {
    return join(this.dir, MASTER);
  }
  leasesPath(): string {
    return join(this.mdDir, "leases");
  }

  /** Image UUIDs, excluding those being deleted (`_remove_me_`). */
  async listImages(): Promise<string[]> {
    try {
      // the ISO directory holds CD-ROM media, not volumes (image/iso.ts)
      return (await readdir(this.imagesDir())).filter((n) => UUID_RE.test(n) && n !== ISO_IMAGE_UUID).sort();
    } catch (err) {
      if (errno(err) === "ENOENT") return [];
      throw err;
    }
  }

  /** Volume UUIDs of one image (those with a .meta file). */
  async listVolumes(imgUUID: string): Promise<string[]> {
    try {
      return (await readdir(this.imageDir(imgUUID)))
        .filter((n) => n.endsWith(".meta") && UUID_RE.test(n.slice(0, -5)))
        .map((n) => n.slice(0, -5))
        .sort();
    } catch (err) {
      if (errno(err) === "ENOENT") throw new VdsmError("ImageDoesNotExistInSD", `${imgUUID} in ${this.sdUUID}`);
      throw err;
    }
  }

  async hasImage(imgUUID: string): Promise<boolean> {
    return exists(this.imageDir(imgUUID));
  }

  /**
   * Whether this file system can hold one file of `bytes` (ext4 stops at 16 TiB): a sparse probe
   * file is truncated to the size and removed again, so a create that would fail with EFBIG in
   * its task is refused before anything is recorded. Undefined when it fits, else why not.
   */
  async fileSizeProblem(bytes: number): Promise<string | undefined> {
    const probe = join(this.dir, `.size-probe-${randomUUID()}`);
    const fh = await open(probe, "wx", 0o600);
    try {
      await fh.truncate(bytes);
      return undefined;
    } catch (err) {
      if (errno(err) === "EFBIG" || errno(err) === "EINVAL") return `the domain's file system cannot hold a ${bytes}-byte file`;
      throw err;
    } finally {
      await fh.close();
      await rm(probe, { force: true });
    }
  }

  async space(): Promise<{ total: number; free: number; blockSize: number }> {
    const st = await statfs(this.dir);
    return { total: st.bsize * st.blocks, free: st.bsize * st.bavail, blockSize: st.bsize };
  }
}

/** Pool member list `sd:Active,sd:Attached` ↔ map. */
export function parsePoolDomains(s: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const item of (s ?? "").split(",")) {
    const [sd, status] = item.split(":");
    if (sd && UUID_RE.test(sd)) m.set(sd, status || "Attached");
  }
  return m;
}

export function formatPoolDomains(m: Map<string, string>): string {
  return [...m].map(([sd, st]) => `${sd}:${st}`).join(",");
}

export function poolsOf(md: Md): string[] {
  return (md.POOL_UUID ?? "").split(",").filter((x) => UUID_RE.test(x));
}
