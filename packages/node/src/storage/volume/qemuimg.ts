/**
 * qemu-img, one typed function per use. Every call goes through exec.run (no shell, timeout,
 * logged argv) and fails as a CommandError carrying stderr. Never passes a path that does not
 * come from a validated UUID under a domain directory; backing files are bare volume UUIDs
 * (relative to the image directory), as VDSM writes them.
 */
import type { Logger } from "../../log.js";
import { run } from "../../exec.js";
import { DaemonUnavailable, type DaemonSupervisor } from "./qsd.js";

export type ImgFormat = "qcow2" | "raw";

export interface CreateOpts {
  /** Backing file as written into the qcow2 header (a bare volume UUID), and its format. */
  backing?: { file: string; format: ImgFormat };
  preallocation?: "off" | "metadata" | "falloc" | "full";
}

/** The agent's qemu-storage-daemon, when it runs: creates go through it (see qsd.ts). */
let daemons: DaemonSupervisor | undefined;

export function useStorageDaemon(d: DaemonSupervisor | undefined): void {
  daemons = d;
}

export async function create(log: Logger, path: string, format: ImgFormat, size: number, o: CreateOpts = {}): Promise<void> {
  const prealloc = o.preallocation ?? "off";
  // Raw files are rare here (preallocated raw is an fallocate of the whole size): qemu-img.
  if (format === "qcow2" && (prealloc === "off" || prealloc === "falloc")) {
    const daemon = await daemons?.get();
    try {
      if (daemon) return await daemon.createQcow2(path, size, { backing: o.backing, preallocation: prealloc });
    } catch (err) {
      if (!(err instanceof DaemonUnavailable)) throw err;
      log.warn({ path, err: err.message }, "qemu-storage-daemon lost mid-create: retrying with qemu-img");
    }
  }
  const opts: string[] = [];
  if (format === "qcow2") opts.push("compat=1.1");
  if (o.preallocation && o.preallocation !== "off") opts.push(`preallocation=${o.preallocation}`);
  const argv = ["qemu-img", "create", "-q", "-f", format];
  if (opts.length) argv.push("-o", opts.join(","));
  // -u: the backing file is named relative to the image dir; do not open it to check.
  if (o.backing) argv.push("-u", "-b", o.backing.file, "-F", o.backing.format);
  argv.push(path, String(size));
  await run(argv, { log, timeoutMs: 600_000 });
}

export interface ImgInfo {
  filename: string;
  format: string;
  "virtual-size": number;
  "actual-size"?: number;
  "backing-filename"?: string;
  "full-backing-filename"?: string;
  "backing-filename-format"?: string;
}

export async function info(log: Logger, path: string, format?: ImgFormat): Promise<ImgInfo> {
  const argv = ["qemu-img", "info", "-U", "--output=json"];
  if (format) argv.push("-f", format);
  argv.push(path);
  return JSON.parse((await run(argv, { log, timeoutMs: 60_000 })).stdout) as ImgInfo;
}

/** One run of a file's allocation map, as `qemu-img map` reports it. */
export interface MapExtent {
  start: number;
  length: number;
  data: boolean;
  zero: boolean;
}

/**
 * The allocation map of `path` read as `format` (for a raw file: where its holes are, found with
 * SEEK_DATA/SEEK_HOLE). `-U`: the file may be open for writing elsewhere (an upload in progress).
 */
export async function map(log: Logger, path: string, format: ImgFormat): Promise<MapExtent[]> {
  const r = await run(["qemu-img", "map", "-U", "--output=json", "-f", format, path], { log, timeoutMs: 120_000 });
  return JSON.parse(r.stdout) as MapExtent[];
}

/** The whole chain, leaf first. */
export async function chain(log: Logger, path: string): Promise<ImgInfo[]> {
  const r = await run(["qemu-img", "info", "-U", "--output=json", "--backing-chain", path], { log, timeoutMs: 60_000 });
  return JSON.parse(r.stdout) as ImgInfo[];
}

/**
 * How a copy uses the host's page cache. "writeback" (file domains): through the cache, flushed
 * before qemu-img exits, so the copy is on storage when the task reports success; NFS's
 * close-to-open consistency makes it visible to other hosts. It is qemu-img's own default speed
 * (its default, "unsafe", skips that flush). "none" (O_DIRECT both ways) is for shared block
 * devices, where another host's writes never invalidate this host's cache.
 */
export type CopyCache = "writeback" | "none";

/** Copies (and collapses, when `src` has backing files) into a new image; progress 0..100. */
export async function convert(
  log: Logger,
  src: string,
  srcFormat: ImgFormat,
  dst: string,
  dstFormat: ImgFormat,
  o: {
    backing?: { file: string; format: ImgFormat };
    preallocation?: "off" | "falloc";
    /** Page cache for both ends; see CopyCache. */
    cache?: CopyCache;
    onProgress?: (pct: number) => void;
  } = {},
): Promise<void> {
  const opts: string[] = [];
  if (dstFormat === "qcow2") opts.push("compat=1.1");
  if (o.preallocation === "falloc") opts.push("preallocation=falloc");
  const cache = o.cache ?? "writeback";
  const argv = ["qemu-img", "convert", "-p", "-t", cache, "-T", cache, "-f", srcFormat, "-O", dstFormat];
  if (opts.length) argv.push("-o", opts.join(","));
  if (o.backing) argv.push("-B", o.backing.file, "-F", o.backing.format);
  argv.push(src, dst);
  await run(argv, {
    log,
    timeoutMs: 24 * 3600_000,
    onStdout: (chunk) => {
      const m = /\((\d+(?:\.\d+)?)\/100%\)/g;
      let last: RegExpExecArray | null = null;
      for (let x = m.exec(chunk); x; x = m.exec(chunk)) last = x;
      if (last) o.onProgress?.(Number(last[1]));
    },
  });
}

/** Bytes a new image of `dstFormat` needs to hold `src` (its whole chain when it has backing files). */
export async function measure(log: Logger, src: string, srcFormat: ImgFormat, dstFormat: ImgFormat): Promise<number> {
  const argv = ["qemu-img", "measure", "-U", "--output=json", "-O", dstFormat];
  // A json: filename names its own driver.
  if (!src.startsWith("json:")) argv.push("-f", srcFormat);
  argv.push(src);
  const out = JSON.parse((await run(argv, { log, timeoutMs: 120_000 })).stdout) as { required: number };
  return out.required;
}

export async function resize(log: Logger, path: string, format: ImgFormat, size: number, preallocation?: "falloc"): Promise<void> {
  const argv = ["qemu-img", "resize", "-q", "-f", format];
  if (preallocation) argv.push(`--preallocation=${preallocation}`);
  argv.push(path, String(size));
  await run(argv, { log, timeoutMs: 600_000 });
}

/** Rewrites the backing file name (unsafe: data must already be equivalent). */
export async function rebaseUnsafe(log: Logger, path: string, backing: { file: string; format: ImgFormat } | null): Promise<void> {
  const argv = ["qemu-img", "rebase", "-u", "-f", "qcow2"];
  if (backing) argv.push("-b", backing.file, "-F", backing.format);
  else argv.push("-b", "");
  argv.push(path);
  await run(argv, { log, timeoutMs: 60_000 });
}

/** Safe rebase: copies into `path` whatever differs between its old and new backing. */
export async function rebase(log: Logger, path: string, backing: { file: string; format: ImgFormat } | null): Promise<void> {
  const argv = ["qemu-img", "rebase", "-t", "none", "-T", "none", "-f", "qcow2"];
  if (backing) argv.push("-b", backing.file, "-F", backing.format);
  else argv.push("-b", "");
  argv.push(path);
  await run(argv, { log, timeoutMs: 24 * 3600_000 });
}

/** Commits `top` into its backing file (cold merge). */
export async function commit(log: Logger, top: string, onProgress?: (pct: number) => void): Promise<void> {
  await run(["qemu-img", "commit", "-p", "-t", "none", "-f", "qcow2", "-d", top], {
    log,
    timeoutMs: 24 * 3600_000,
    onStdout: (chunk) => {
      const m = /\((\d+(?:\.\d+)?)\/100%\)/.exec(chunk);
      if (m) onProgress?.(Number(m[1]));
    },
  });
}
