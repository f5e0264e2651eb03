/**
 * Storage server connections (VDSM's storageServer.py): makes a remote or local path available
 * under `<runDir>/data-center/mnt/<mangled path>`. LOCALFS (and POSIXFS given an existing local
 * directory without a vfs type) is a symlink; NFS and other POSIXFS are mount(8) calls; ISCSI is
 * a login to a target through iscsiadm (iscsi.ts), refused where the kernel has no iscsi_tcp.
 * Never lets a connection string reach mount(8) or a path without passing the allow-lists below.
 */
import type { Connection, StorageTypeName } from "@vela/protocol";
import { ErrorCodes, FORBIDDEN_MOUNT_OPTION, StorageType, systemDirectoryOf, VdsmError } from "@vela/protocol";
import { constants } from "node:fs";
import { access, mkdir, readlink, rmdir, stat, symlink, unlink } from "node:fs/promises";
import { join, posix } from "node:path";
import type { NodeContext } from "../../api/context.js";
import { CommandError, run } from "../../exec.js";
import { errno, isSymlink, mangleRemotePath } from "../fileutil.js";
import { IscsiProvider, iscsiTargetOf } from "./iscsi.js";

export function typeName(domType: number): StorageTypeName {
  const e = Object.entries(StorageType).find(([, n]) => n === domType);
  if (!e) throw new VdsmError("StorageDomainTypeError", String(domType));
  return e[0] as StorageTypeName;
}

/** An absolute, normalised local path: no '..', '.', '//' or trailing '/', printable. */
export function checkLocalPath(p: string): string {
  if (!p.startsWith("/") || p.includes("\0") || /[\n\r]/.test(p)) throw new VdsmError("StorageDomainIllegalRemotePath", JSON.stringify(p));
  const norm = posix.normalize(p).replace(/\/+$/, "") || "/";
  if (norm !== p.replace(/\/+$/, "") || p.split("/").some((c) => c === ".." || c === ".")) {
    throw new VdsmError("StorageDomainIllegalRemotePath", `${JSON.stringify(p)} is not a normalised absolute path`);
  }
  if (norm === "/") throw new VdsmError("StorageDomainIllegalRemotePath", "/");
  return norm;
}

/** A local domain path must not be a system directory (the engine's rule too: protocol's limits). */
function notSystem(p: string): string {
  const sys = systemDirectoryOf(p);
  if (sys) throw new VdsmError("StorageDomainIllegalRemotePath", `${p} is a system directory (${sys})`);
  return p;
}

/** `host:/export/path`, host a DNS name, IPv4 or [IPv6]. */
export function checkRemotePath(p: string): string {
  const m = /^([A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\]):(\/.*)$/.exec(p);
  if (!m) throw new VdsmError("StorageDomainIllegalRemotePath", JSON.stringify(p));
  return `${m[1]}:${checkLocalPath(m[2])}`;
}

/** Mount options: comma list of word[=value], nothing that could be another argument. */
function checkOptions(opts: string): string {
  if (!/^[A-Za-z0-9_.=:,-]*$/.test(opts) || opts.startsWith("-") || FORBIDDEN_MOUNT_OPTION.test(opts)) throw new VdsmError("InvalidParameter", `mount options ${JSON.stringify(opts)}`);
  return opts;
}

const DEFAULT_NFS_OPTIONS = "soft,nosharecache,timeo=100,retrans=3,nfsvers=4";

export class Connections {
  readonly mntRoot: string;
  readonly iscsi: IscsiProvider;

  constructor(private readonly ctx: NodeContext) {
    this.mntRoot = join(ctx.config.runDir, "data-center", "mnt");
    this.iscsi = new IscsiProvider(ctx.log.child({ sub: "iscsi" }));
  }

  /** Where a connection string is (or would be) mounted. */
  mountPointOf(kind: StorageTypeName, connection: string): string {
    const remote = kind === "NFS" || kind === "GLUSTERFS" || kind === "CIFS" ? connection : connection;
    return join(this.mntRoot, mangleRemotePath(remote));
  }

  /** Normalises and checks a connection string for a storage type; throws on anything odd. */
  checkConnection(kind: StorageTypeName, c: Pick<Connection, "connection" | "vfs_type">): string {
    if (kind === "LOCALFS") return notSystem(checkLocalPath(c.connection));
    if (kind === "NFS") return checkRemotePath(c.connection);
    if (kind === "POSIXFS") return c.connection.startsWith("/") ? notSystem(checkLocalPath(c.connection)) : checkRemotePath(c.connection);
    throw new VdsmError("StorageDomainTypeError", `${kind} is not a file storage type this node serves`);
  }

  async connect(domType: number, conList: Connection[]): Promise<{ id: string; status: number }[]> {
    const kind = typeName(domType);
    const out: { id: string; status: number }[] = [];
    for (const c of conList) {
      try {
        await this.connectOne(kind, c);
        out.push({ id: c.id, status: 0 });
      } catch (err) {
        const code = err instanceof VdsmError ? err.code : ErrorCodes.StorageServerConnectionError.code;
        this.ctx.log.warn({ conn: c.connection, kind, err: (err as Error).message }, "connectStorageServer failed");
        out.push({ id: c.id, status: code });
      }
    }
    return out;
  }

  async disconnect(domType: number, conList: Connection[]): Promise<{ id: string; status: number }[]> {
    const kind = typeName(domType);
    const out: { id: string; status: number }[] = [];
    for (const c of conList) {
      try {
        await this.disconnectOne(kind, c);
        out.push({ id: c.id, status: 0 });
      } catch (err) {
        const code = err instanceof VdsmError ? err.code : ErrorCodes.StorageServerDisconnectionError.code;
        out.push({ id: c.id, status: code });
      }
    }
    return out;
  }

  private async connectOne(kind: StorageTypeName, c: Connection): Promise<void> {
    if (kind === "ISCSI") return this.iscsi.login(iscsiTargetOf(c));
    const conn = this.checkConnection(kind, c);
    await mkdir(this.mntRoot, { recursive: true, mode: 0o755 });
    const mnt = this.mountPointOf(kind, conn);
    if (kind === "LOCALFS" || (kind === "POSIXFS" && conn.startsWith("/") && !c.vfs_type)) {
      await this.linkLocal(conn, mnt);
      return;
    }
    const vfs = kind === "NFS" ? "nfs" : c.vfs_type;
    if (!vfs || !/^[a-z0-9.]{1,32}$/.test(vfs)) throw new VdsmError("InvalidParameter", `vfs_type ${JSON.stringify(vfs)}`);
    const opts = checkOptions(c.mnt_options || (kind === "NFS" ? DEFAULT_NFS_OPTIONS : "defaults"));
    if (await this.isMounted(mnt)) return;
    await mkdir(mnt, { recursive: true, mode: 0o755 });
    try {
      await run(["mount", "-t", vfs, "-o", opts, "--", conn, mnt], { log: this.ctx.log, timeoutMs: 180_000 });
    } catch (err) {
      await rmdir(mnt).catch(() => {});
      throw new VdsmError("MountError", err instanceof CommandError ? err.stderr.trim() : String(err));
    }
  }

  private async linkLocal(path: string, mnt: string): Promise<void> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(path);
    } catch {
      throw new VdsmError("StorageServerValidationError", path);
    }
    if (!st.isDirectory()) throw new VdsmError("StorageServerValidationError", `${path} is not a directory`);
    try {
      await access(path, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch {
      throw new VdsmError("StorageServerAccessPermissionError", path);
    }
    try {
      await symlink(path, mnt);
    } catch (err) {
      if (errno(err) !== "EEXIST") throw err;
      // Already connected: fine if it points where we want, else replace a stale link.
      if ((await isSymlink(mnt)) && (await readlink(mnt)) === path) return;
      if (!(await isSymlink(mnt))) throw new VdsmError("StorageServerConnectionError", `${mnt} exists and is not a link`);
      await unlink(mnt);
      await symlink(path, mnt);
    }
  }

  private async disconnectOne(kind: StorageTypeName, c: Connection): Promise<void> {
    if (kind === "ISCSI") return this.iscsi.logout(iscsiTargetOf(c));
    const conn = this.checkConnection(kind, c);
    const mnt = this.mountPointOf(kind, conn);
    if (await isSymlink(mnt)) {
      await unlink(mnt);
      return;
    }
    if (await this.isMounted(mnt)) {
      try {
        await run(["umount", "-f", "-l", "--", mnt], { log: this.ctx.log, timeoutMs: 60_000 });
      } catch (err) {
        throw new VdsmError("StorageServerDisconnectionError", err instanceof CommandError ? err.stderr.trim() : String(err));
      }
    }
    await rmdir(mnt).catch(() => {});
  }

  /** True when `dir` is a mount point (its device differs from its parent's). */
  private async isMounted(dir: string): Promise<boolean> {
    try {
      const [a, b] = await Promise.all([stat(dir), stat(join(dir, ".."))]);
      return a.dev !== b.dev;
    } catch {
      return false;
    }
  }
}
