/**
 * Image transfer tickets (the node's part of oVirt's imagetransfers, in the place of VDSM's
 * tickets in ovirt-imageio). A ticket names one volume and one direction; its data lives in a
 * staging file under the run directory, never in the volume while the client writes:
 * - upload: PUTs fill the staging file; finishImageUpload checks it with qemu-img (declared format,
 *   no backing or external data file, no larger than the volume) and only then converts it into
 *   the volume under the image's exclusive lock. A refused or cancelled upload leaves the volume as
 *   it was.
 * - download: the ticket's volume (with its chain) is converted into a staging file in the asked
 *   format when the ticket is added, so a client reads one consistent image; GETs read it.
 * The ticket id is the capability: a random UUID the engine made, refused once the ticket went
 * unused for longer than its timeout. The HTTP side is image-http.ts.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { type ImageTicketInfo, VdsmError } from "@vela/protocol";
import type { NodeContext } from "../../api/context.js";
import type { PartialHandlers } from "../../api/handlers.js";
import { CommandError, run } from "../../exec.js";
import type { DomainRegistry } from "../domain/index.js";
import type { Images } from "./prepare.js";
import * as qemuimg from "../volume/qemuimg.js";
import type { VolumeMd } from "../metadata.js";
import * as vol from "../volume/volume.js";

type WithImageLock = <T>(sd: string, img: string, mode: "shared" | "exclusive", fn: () => Promise<T>) => Promise<T>;

/** A qcow2 file may be a little larger than its virtual size (metadata): room for that. */
function qcow2Limit(cap: number): number {
  return cap + Math.ceil(cap / 8) + 64 * 2 ** 20;
}

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);
/** qcow2 v3 incompatible feature bit 2: the guest data lives in an external file (any host path). */
const EXTERNAL_DATA_FILE = 4n;

export interface Ticket {
  uuid: string;
  sdUUID: string;
  spUUID: string;
  imgUUID: string;
  volUUID: string;
  direction: "upload" | "download";
  format: qemuimg.ImgFormat;
  file: string;
  /** Bytes a request may reach (upload: the limit; download: the staging file's size). */
  size: number;
  timeoutMs: number;
  lastActivity: number;
  transferred: number;
  active: number;
  /** Finishing or removed: no new request starts. */
  closed: boolean;
  fh?: FileHandle;
}

export class ImageTransfers {
  private readonly tickets = new Map<string, Ticket>();
  readonly dir: string;

  constructor(
    private readonly d: { ctx: NodeContext; domains: DomainRegistry; images: Images; withImageLock: WithImageLock },
  ) {
    this.dir = join(d.ctx.config.runDir, "transfers");
    // Tickets live in memory: staging files a previous run left have no ticket any more.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.dir)) rmSync(join(this.dir, f), { force: true });
  }

  /** The ticket a request names, if it may be used now for `op`; otherwise undefined. */
  usable(uuid: string, op: "read" | "write"): Ticket | undefined {
    const t = this.tickets.get(uuid);
    if (!t || t.closed || this.expired(t)) return undefined;
    if ((op === "write") !== (t.direction === "upload")) return undefined;
    return t;
  }

  private expired(t: Ticket): boolean {
    return t.active === 0 && Date.now() - t.lastActivity > t.timeoutMs;
  }

  /** Marks a request running on the ticket; the returned function ends it. */
  begin(t: Ticket): () => void {
    t.active++;
    t.lastActivity = Date.now();
    return () => {
      t.active--;
      t.lastActivity = Date.now();
    };
  }

  async handle(t: Ticket): Promise<FileHandle> {
    t.fh ??= await open(t.file, t.direction === "upload" ? "r+" : "r");
    return t.fh;
  }

  /**
   * imageio's zero extents of the ticket's data over [0, size): where it reads as zeros, and
   * whether that is a hole (unallocated). Read from the staging file's allocation, so a client
   * downloading a sparse disk skips its holes instead of reading them.
   */
  async extents(t: Ticket): Promise<ZeroExtent[]> {
    const out: ZeroExtent[] = [];
    const push = (start: number, length: number, zero: boolean, hole: boolean) => {
      const last = out[out.length - 1];
      if (last && last.zero === zero && last.hole === hole && last.start + last.length === start) last.length += length;
      else out.push({ start, length, zero, hole });
    };
    for (const e of await qemuimg.map(this.d.ctx.log, t.file, "raw")) {
      const end = Math.min(e.start + e.length, t.size);
      if (end > e.start) push(e.start, end - e.start, e.zero, e.zero && !e.data);
    }
    // An upload's staging file may be shorter than what the ticket allows: the rest reads as zeros.
    const covered = out.length ? out[out.length - 1].start + out[out.length - 1].length : 0;
    if (covered < t.size) push(covered, t.size - covered, true, true);
    return out;
  }

  /**
   * Zeroes [offset, offset+size) of an upload's staging file. Inside the file that is a punched
   * hole (fallocate(1): no bytes written, so a mostly empty disk costs neither time nor space);
   * past its end (a qcow2 stream still growing) zeros are written, which extends the file.
   */
  async zero(t: Ticket, offset: number, size: number): Promise<void> {
    const fh = await this.handle(t);
    const fileSize = (await fh.stat()).size;
    const inside = Math.max(0, Math.min(offset + size, fileSize) - offset);
    if (inside > 0) {
      try {
        await run(["fallocate", "--punch-hole", "--offset", String(offset), "--length", String(inside), t.file], { log: this.d.ctx.log, timeoutMs: 60_000 });
      } catch (err) {
        // A file system without hole punching: write the zeros instead.
        this.d.ctx.log.warn({ err: (err as Error).message }, "cannot punch a hole in the staging file: writing zeros");
        await writeZeros(fh, offset, inside);
      }
    }
    if (inside < size) await writeZeros(fh, offset + inside, size - inside);
  }

  info(t: Ticket): ImageTicketInfo {
    return {
      transferred: t.transferred,
      size: t.size,
      idle: t.active > 0 ? 0 : Math.max(0, (Date.now() - t.lastActivity) / 1000),
      expired: this.expired(t),
      active: t.active,
    };
  }

  private must(uuid: string): Ticket {
    const t = this.tickets.get(uuid);
    if (!t) throw new VdsmError("ImageTicketNotFound", uuid);
    return t;
  }

  /** The volume a ticket may name: a LEGAL leaf of its image (uploads: the image's only volume). */
  private async volumeOf(sdUUID: string, imgUUID: string, volUUID: string, direction: Ticket["direction"]): Promise<VolumeMd> {
    const dom = await this.d.domains.get(sdUUID);
    if (!(await dom.hasImage(imgUUID))) throw new VdsmError("ImageDoesNotExistInSD", `${imgUUID} in ${sdUUID}`);
    const vols = await vol.imageVolumes(dom, imgUUID);
    const md = vols.get(volUUID);
    if (!md) throw new VdsmError("VolumeDoesNotExist", volUUID);
    if (md.LEGALITY !== "LEGAL") throw new VdsmError("prepareIllegalVolumeError", volUUID);
    if (direction === "upload" && (vols.size !== 1 || md.VOLTYPE !== "LEAF")) {
      throw new VdsmError("VolumeImageHasChildren", `image ${imgUUID} must hold exactly one volume to upload into`);
    }
    return md;
  }

  private async close(t: Ticket): Promise<void> {
    t.closed = true;
    const fh = t.fh;
    t.fh = undefined;
    await fh?.close().catch(() => undefined);
  }

  /** Waits (bounded) for requests still running on a closed ticket to end. */
  private async drained(t: Ticket): Promise<void> {
    const until = Date.now() + 30_000;
    while (t.active > 0) {
      if (Date.now() > until) throw new VdsmError("VolumeIsBusy", `ticket ${t.uuid} still has ${t.active} request(s) running`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async drop(t: Ticket): Promise<void> {
    await this.close(t);
    this.tickets.delete(t.uuid);
    await rm(t.file, { force: true });
  }

  async add(p: Omit<Ticket, "file" | "size" | "lastActivity" | "transferred" | "active" | "closed" | "timeoutMs"> & { timeout: number }): Promise<ImageTicketInfo> {
    if (this.tickets.has(p.uuid)) throw new VdsmError("InvalidParameter", `ticket ${p.uuid} exists already`);
    const md = await this.volumeOf(p.sdUUID, p.imgUUID, p.volUUID, p.direction);
    // The file name is ours (a fresh UUID), never the client's.
    const file = join(this.dir, `${randomUUID()}.${p.format}`);
    let size: number;
    if (p.direction === "upload") {
      size = p.format === "raw" ? md.CAP : qcow2Limit(md.CAP);
      const fh = await open(file, "wx", 0o600);
      // A raw upload is the guest's disk: the staging file has its full (sparse) size.
      if (p.format === "raw") await fh.truncate(md.CAP);
      await fh.close();
    } else {
      size = await this.d.withImageLock(p.sdUUID, p.imgUUID, "shared", async () => {
        const src = await this.d.images.prepareVerb(p.sdUUID, p.spUUID, p.imgUUID, p.volUUID, false);
        await convert(this.d.ctx, src.path, vol.fmtToImg(md.FORMAT), file, p.format, false);
        return (await stat(file)).size;
      });
    }
    const t: Ticket = { ...p, file, size, timeoutMs: p.timeout * 1000, lastActivity: Date.now(), transferred: 0, active: 0, closed: false };
    this.tickets.set(t.uuid, t);
    this.d.ctx.log.info({ ticket: t.uuid.slice(0, 8), imgUUID: t.imgUUID, volUUID: t.volUUID, direction: t.direction, format: t.format, size }, "image ticket added");
    return this.info(t);
  }

  /** Checks the uploaded staging file and writes it into the volume; the ticket is gone after. */
  async finishUpload(uuid: string): Promise<void> {
    const t = this.must(uuid);
    if (t.direction !== "upload") throw new VdsmError("InvalidParameter", `ticket ${uuid} is a download`);
    await this.close(t);
    try {
      await this.drained(t);
      await this.d.withImageLock(t.sdUUID, t.imgUUID, "exclusive", async () => {
        const md = await this.volumeOf(t.sdUUID, t.imgUUID, t.volUUID, "upload");
        await checkUpload(this.d.ctx, t.file, t.format, md.CAP);
        const target = await this.d.images.prepareVerb(t.sdUUID, t.spUUID, t.imgUUID, t.volUUID, false);
        this.d.ctx.log.info({ ticket: uuid.slice(0, 8), imgUUID: t.imgUUID, volUUID: t.volUUID, format: t.format }, "writing the upload into the volume");
        await convert(this.d.ctx, t.file, t.format, target.path, vol.fmtToImg(md.FORMAT), true);
      });
    } finally {
      // Whatever the outcome, the ticket and its staging data are gone (the volume is as it was on failure).
      await this.drop(t);
    }
  }

  async extend(uuid: string, timeout: number): Promise<void> {
    const t = this.must(uuid);
    t.timeoutMs = timeout * 1000;
    t.lastActivity = Date.now();
  }

  async remove(uuid: string): Promise<void> {
    const t = this.tickets.get(uuid);
    if (!t) return; // removing twice is not an error: the engine retries after failures
    await this.close(t);
    await this.drained(t).catch(() => undefined);
    await this.drop(t);
  }

  handlers(): PartialHandlers {
    return {
      addImageTicket: async ({ ticket, sdUUID, spUUID, imgUUID, volUUID, direction, format, timeout }) => ({
        ticket: await this.add({ uuid: ticket, sdUUID, spUUID, imgUUID, volUUID, direction, format, timeout }),
      }),
      getImageTicket: async ({ ticket }) => ({ ticket: this.info(this.must(ticket)) }),
      extendImageTicket: async ({ ticket, timeout }) => {
        await this.extend(ticket, timeout);
        return {};
      },
      removeImageTicket: async ({ ticket }) => {
        await this.remove(ticket);
        return {};
      },
      finishImageUpload: async ({ ticket }) => {
        await this.finishUpload(ticket);
        return {};
      },
    };
  }
}

/** imageio's zero extent: `zero` reads as zeros, `hole` is also unallocated. */
export interface ZeroExtent {
  start: number;
  length: number;
  zero: boolean;
  hole: boolean;
}

const ZERO_CHUNK = 2 ** 20;

async function writeZeros(fh: FileHandle, offset: number, size: number): Promise<void> {
  const buf = Buffer.alloc(Math.min(ZERO_CHUNK, size));
  for (let done = 0; done < size; ) {
    const n = Math.min(buf.length, size - done);
    await fh.write(buf, 0, n, offset + done);
    done += n;
  }
}

async function convert(ctx: NodeContext, src: string, srcFmt: qemuimg.ImgFormat, dst: string, dstFmt: qemuimg.ImgFormat, existing: boolean): Promise<void> {
  const argv = ["qemu-img", "convert", ...(existing ? ["-n"] : []), "-t", "writeback", "-T", "writeback", "-f", srcFmt, "-O", dstFmt, src, dst];
  try {
    await run(argv, { log: ctx.log, timeoutMs: 3600_000 });
  } catch (e) {
    const msg = e instanceof CommandError ? e.stderr.trim() : (e as Error).message;
    throw new VdsmError("VolumeCopyError", `cannot copy the image: ${msg.slice(0, 500)}`);
  }
}

/** The first bytes of a file (fewer when it is shorter). */
async function head(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Refuses an upload that is not a standalone image of its declared format fitting the volume.
 * The qcow2 header is read before qemu-img opens the file, so an external data file (a path on
 * this host) is never opened.
 */
export async function checkUpload(ctx: NodeContext, path: string, format: qemuimg.ImgFormat, cap: number): Promise<void> {
  const bad = (why: string) => new VdsmError("IncorrectFormat", `the uploaded data is not a valid ${format} image: ${why}`);
  const h = await head(path, 104);
  const isQcow2 = h.length >= 4 && h.subarray(0, 4).equals(QCOW2_MAGIC);
  if (format === "raw") {
    // Raw takes any bytes, but a qcow2 file sent as raw is a mistake the guest would not survive.
    if (isQcow2) throw bad("it is a qcow2 file; declare the transfer's format as cow");
    return;
  }
  if (!isQcow2) throw bad("no qcow2 header");
  if (h.length >= 80 && h.readUInt32BE(4) >= 3 && (h.readBigUInt64BE(72) & EXTERNAL_DATA_FILE) !== 0n) throw bad("it uses an external data file");
  let info: qemuimg.ImgInfo & { "format-specific"?: { data?: { "data-file"?: string } } };
  try {
    info = await qemuimg.info(ctx.log, path, "qcow2");
    await run(["qemu-img", "check", "-f", "qcow2", path], { log: ctx.log, timeoutMs: 600_000 }).catch((e: unknown) => {
      // exit 3: leaked clusters only, harmless (the copy into the volume drops them)
      if (!(e instanceof CommandError && e.exitCode === 3)) throw e;
    });
  } catch (e) {
    const msg = e instanceof CommandError ? e.stderr.trim() : (e as Error).message;
    throw bad(msg.slice(0, 300));
  }
  if (info["backing-filename"] !== undefined) throw bad("it has a backing file; upload a standalone image");
  if (info["format-specific"]?.data?.["data-file"] !== undefined) throw bad("it uses an external data file");
  if (info["virtual-size"] > cap) throw new VdsmError("VolumeResizeValueError", `the uploaded image is ${info["virtual-size"]} bytes, larger than the disk (${cap} bytes)`);
}
