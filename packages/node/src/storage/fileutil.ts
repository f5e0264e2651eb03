/**
 * Small file helpers shared by the storage code: atomic replace (write `<f>.new`, rename over
 * `<f>`), VDSM's mount-directory name mangling, and existence checks. Never follows a path built
 * from unchecked input: callers pass paths composed of validated UUIDs under known roots.
 */
import { constants } from "node:fs";
import { access, lstat, open, rename, stat, unlink } from "node:fs/promises";

/**
 * Replaces `path` atomically: readers see the old or the new content, never a torn mix.
 * `durable` fsyncs the new file before the rename (domain metadata, task state); volume
 * metadata skips it, since the task's rollback covers a crash in between.
 */
export async function atomicWrite(path: string, data: string, opts: { durable?: boolean; mode?: number } = {}): Promise<void> {
  const tmp = `${path}.new`;
  const fh = await open(tmp, "w", opts.mode ?? 0o660);
  try {
    await fh.chmod(opts.mode ?? 0o660);
    await fh.writeFile(data);
    if (opts.durable) await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
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
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}
