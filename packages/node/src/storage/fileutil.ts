/**
 * Small file helpers shared by the storage code: atomic replace (write `<f>.new`, rename over
 * `<f>`), VDSM's mount-directory name mangling, and existence checks. Never follows a path built
 * from unchecked input: callers pass paths composed of validated UUIDs under known roots.
 */
import { constants } from "node:fs";
import { access, lstat, open, rename, stat, unlink } from "node:fs/promises";
import { guardWrite } from "./spm/fence.js";

/** This process's umask, read once (files are created with mode & ~umask). */
const UMASK = (() => {
  const m = process.umask(0o022);
  process.umask(m);
  return m;
})();

/** A replacement written aside (`<f>.new`), made visible by `commit` (one rename). */
export interface StagedWrite {
  commit(): Promise<void>;
}

/**
 * Writes the replacement of `path` aside. Staging early and committing late keeps the slow part
 * (writing) off a critical path: the commit is a single rename. `durable` fsyncs the new file
 * (domain metadata); volume metadata and task records skip it, their rollback covers a crash.
 */
export async function stageWrite(
  path: string,
  data: string,
  opts: { durable?: boolean; mode?: number; suffix?: string } = {},
): Promise<StagedWrite> {
  guardWrite(path, "write");
  const tmp = `${path}${opts.suffix ?? ".new"}`;
  const mode = opts.mode ?? 0o660;
  const fh = await open(tmp, "w", mode);
  try {
    // Only when the umask would leave the mode short (saves a call on the hot path).
    if ((mode & ~UMASK) !== mode) await fh.chmod(mode);
    await fh.writeFile(data);
    if (opts.durable) await fh.datasync();
  } finally {
    await fh.close();
  }
  return {
    async commit() {
      // Checked again right before the write becomes visible: the data write may have been slow.
      guardWrite(path, "rename");
      await rename(tmp, path);
    },
  };
}

/** Replaces `path` atomically: readers see the old or the new content, never a torn mix. */
export async function atomicWrite(path: string, data: string, opts: { durable?: boolean; mode?: number } = {}): Promise<void> {
  await (await stageWrite(path, data, opts)).commit();
}

/** VDSM's mount directory name: '_' → '__', then '/' → '_'. */
export function mangleRemotePath(remote: string): string {
  return remote.replace(/_/g, "__").replace(/\//g, "_");
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function isSymlink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

/** unlink that ignores a missing file (rollback steps must be repeatable). */
export async function unlinkQuiet(path: string): Promise<void> {
  guardWrite(path, "unlink");
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}
