/**
 * Adds a storage domain through a host: connect the host to the storage server, then
 * createStorageDomain there. The new domain is unattached. With `import=true` nothing is created:
 * the host connects and the domain already at that path — or, for a block domain, in the volume
 * group on that LUN — is read from its own metadata (id, name, class, type) and registered,
 * unattached; its disks are registered when it is attached. Paths, addresses, mount options and
 * file system types are checked against strict allow-lists before they reach a node.
 */
import { randomUUID } from "node:crypto";
import { FORBIDDEN_MOUNT_OPTION, type LunInfo, LunGuid, systemDirectoryOf } from "@vela/protocol";
import type { DomainInfo } from "@vela/protocol";
import { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { Bool, Enum, Name, parseInput, Ref, Text, Uuid } from "../input/input.js";
import { ApiFault, badRequest } from "../errors/fault.js";
import type { Engine } from "../engine.js";
import type { Host } from "../db/schema.js";
import { now, type StorageDomain } from "../db/schema.js";
import { connectionOf, connectServer, disconnectServer, isBlockType } from "../hosts/storage.js";
import type { CommandDef } from "./command.js";
import { byRef } from "../db/repo/entities.js";

/** Node calls that make or remove a block domain (lvm, zeroing, mkfs): minutes, not seconds, on a loaded host. */
export const BLOCK_VERB_MS = 180_000;

/** Absolute, normalised, no `.`/`..` components, a conservative character set. */
export const StoragePath = z
  .string()
  .max(4096, "longer than 4096 characters")
  .regex(/^\/[A-Za-z0-9._@+,=:/-]*$/, "must be an absolute path of letters, digits and ._@+,=:/-")
  .refine((s) => !s.split("/").some((c) => c === "." || c === ".."), "must not contain . or .. components")
  .refine((s) => !s.includes("//"), "must be normalised (no //)")
  .transform((s) => (s.length > 1 && s.endsWith("/") ? s.slice(0, -1) : s));

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/**
 * Where a domain may be made: local paths (and POSIX mount sources that are paths, except for
 * tmpfs, whose source is only a label) inside a configured root, never a system directory, and
 * no path component that reads as a command-line option. Bind mounts would make any host
 * directory a domain, so they are refused as POSIX mount options.
 */
export function checkStoragePath(roots: readonly string[], s: { type: string; path: string; vfs_type?: string; mount_options?: string }): void {
  const p = s.path;
  if (p.split("/").some((c) => c.startsWith("-"))) throw invalid(`storage.path ${p}: a path component must not start with '-'`);
  if (s.type === "nfs") return;
  if (s.type === "posixfs" && FORBIDDEN_MOUNT_OPTION.test(s.mount_options ?? "")) throw invalid("storage.mount_options must not bind, move, remount or change propagation");
  if (s.type === "posixfs" && s.vfs_type === "tmpfs") return;
  if (systemDirectoryOf(p)) throw invalid(`storage.path ${p} is a system directory (${systemDirectoryOf(p)})`);
  if (!roots.some((r) => inside(p, r))) {
    throw invalid(`storage.path ${p} is not inside an allowed storage root (${roots.join(":") || "none configured"}; see VELA_STORAGE_ROOTS)`);
  }
}

/** A host name, IPv4 address, or bracketed IPv6 address. */
export const Address = z
  .string()
  .max(253)
  .regex(/^([A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])$/, "not a host name or IP address");

const MountOptions = z.string().max(1024).regex(/^[A-Za-z0-9_.,=:/-]*$/, "mount options may hold only letters, digits and _.,=:/-");
const VfsType = z.string().max(32).regex(/^[a-z0-9._-]*$/, "not a file system type");

/** oVirt sends `logical_units: {logical_unit: [...]}` (XML shape) or a plain list. */
const LogicalUnits = z
  .union([z.array(z.object({ id: LunGuid })), z.object({ logical_unit: z.array(z.object({ id: LunGuid })) })])
  .transform((v) => (Array.isArray(v) ? v : v.logical_unit).map((l) => l.id));

export const Input = z.object({
  /** Required, except on import (the domain's metadata names it). */
  name: Name.refine((s) => s.length <= 50, "longer than 50 characters").optional(),
  id: Uuid.optional(),
  import: Bool.optional(),
  description: Text(4000).optional(),
  comment: Text(4000).optional(),
  type: Enum(["data", "iso", "export", "image", "volume"]),
  storage_format: Enum(["v5"]).optional(),
  host: Ref,
  storage: z.object({
    type: Enum(["localfs", "posixfs", "nfs", "fcp", "iscsi"]),
    /** File domains only. */
    path: StoragePath.optional(),
    address: Address.optional(),
    mount_options: MountOptions.optional(),
    vfs_type: VfsType.optional(),
    /** Block domains only: the LUNs of the new VG. */
    volume_group: z.object({ logical_units: LogicalUnits }).optional(),
  }),
});
/** On a block import, `vgUUID` is the volume group the host found on the LUN. */
type Plan = z.output<typeof Input> & { hostRow: Awaited<ReturnType<typeof byRef<"hosts">>>; vgUUID?: string };

/** VDSM's metadata TYPE for each API storage type. */
const MD_TYPE: Record<string, string> = { localfs: "LOCALFS", nfs: "NFS", posixfs: "POSIXFS", iscsi: "ISCSI", fcp: "FCP" };

export const AddStorageDomain: CommandDef<unknown, Plan, StorageDomain> = {
  name: "add Storage Domain",
  locks: () => ["sd:names"],
  async validate(e, body) {
    const input = parseInput(Input, body, "StorageDomain");
    // ISO domains (file storage only) hold CD-ROM media; export domains are not supported.
    if (input.type !== "data" && input.type !== "iso") throw invalid(`Storage domain type ${input.type} is not supported yet; use data or iso`);
    if (input.type === "iso" && isBlockType(input.storage.type)) throw invalid("ISO domains are file domains (nfs, localfs, posixfs), not fcp/iscsi");
    if (input.type === "iso" && input.import) throw invalid("importing ISO domains is not supported yet");
    if (!input.import && input.name === undefined) throw badRequest("StorageDomain [name] required for add");
    if (!input.import && input.id !== undefined) throw invalid("StorageDomain id can only be given with import=true");
    const s = input.storage;
    if (isBlockType(s.type)) {
      if (!s.volume_group || !s.volume_group.logical_units.length) throw badRequest("StorageDomain [storage.volume_group.logical_units] required for fcp and iscsi");
      if (s.path !== undefined || s.address !== undefined || s.mount_options !== undefined || s.vfs_type !== undefined) throw invalid("storage.path, address, mount_options and vfs_type are for file domains, not fcp/iscsi");
      if (s.volume_group.logical_units.length !== 1) throw invalid("one logical unit per block storage domain is supported today");
    } else {
      if (s.path === undefined) throw badRequest("StorageDomain [storage.path] required for file storage");
      if (s.volume_group) throw invalid("storage.volume_group is for fcp and iscsi domains");
    }
    if (s.type === "nfs" && !s.address) throw invalid("storage.address is required for nfs");
    if (s.type === "localfs" && s.address) throw invalid("storage.address must not be set for localfs");
    if (s.type === "posixfs" && !s.vfs_type) throw invalid("storage.vfs_type is required for posixfs");
    if (!isBlockType(s.type)) checkStoragePath(e.cfg.storageRoots, { ...s, path: s.path! });
    const host = await byRef(e, "hosts", input.host);
    if (host.status !== "up") throw conflict(`Cannot add Storage Domain: host ${host.name} is ${host.status}, not up`);
    if (input.name !== undefined) {
      const clash = await e.db.selectFrom("storage_domains").select("id").where("name", "=", input.name).executeTakeFirst();
      if (clash) throw conflict(`Cannot add Storage Domain. The name ${input.name} is already in use.`);
    }
    if (input.id !== undefined && (await e.db.selectFrom("storage_domains").select("id").where("id", "=", input.id).executeTakeFirst())) {
      throw conflict(`Cannot import Storage Domain ${input.id}: the engine already knows it`);
    }
    if (isBlockType(s.type)) {
      const lun = s.volume_group!.logical_units[0]!;
      const devs = (await e.nodes.for(host).call("getDeviceList", { guids: [lun] })) as unknown as LunInfo[];
      const found = (Array.isArray(devs) ? devs : []).find((d) => d.GUID === lun);
      if (!found) throw invalid(`logical unit ${lun} is not visible on host ${host.name}`);
      if (input.import) {
        // an existing domain's VG is on the LUN: the LUN is "used", by that VG
        if (!found.vgUUID) throw conflict(`Cannot import Storage Domain: logical unit ${lun} holds no volume group`);
        return { ...input, hostRow: host, vgUUID: found.vgUUID };
      }
      if (found.status !== "free") throw conflict(`Cannot add Storage Domain: logical unit ${lun} is already in use${found.vgUUID ? ` (volume group ${found.vgUUID})` : ""}`);
      return { ...input, hostRow: host };
    }
    const same = await e.db
      .selectFrom("storage_domains")
      .select("name")
      .where("storage_type", "=", s.type)
      .where("storage_address", "=", s.address ?? "")
      .where("storage_path", "=", s.path!)
      .executeTakeFirst();
    if (same) throw conflict(`Cannot add Storage Domain: storage ${s.address ? `${s.address}:` : ""}${s.path} is already used by ${same.name}`);
    return { ...input, hostRow: host };
  },
  describe: (p) => (p.import ? `Importing Storage Domain ${p.name ?? p.id ?? p.storage.path}` : `Adding Storage Domain ${p.name}`),
  async execute(e, p, { revert }) {
    const host = p.hostRow;
    const row: StorageDomain = {
      id: p.id ?? randomUUID(),
      name: p.name ?? "",
      description: p.description ?? "",
      comment: p.comment ?? "",
      type: p.type,
      storage_type: p.storage.type,
      storage_address: p.storage.address ?? p.storage.volume_group?.logical_units[0] ?? "",
      // Block domains: the VG's UUID (filled below) in storage_path, the LUN's GUID in storage_address.
      storage_path: p.storage.path ?? "",
      mount_options: p.storage.mount_options ?? "",
      vfs_type: p.storage.vfs_type ?? "",
      connection_id: randomUUID(),
      storage_format: "v5",
      available: null,
      used: null,
      committed: 0,
      host_id: host.id,
      external_status: "ok",
      last_check: null,
      created_at: now(),
    };
    if (isBlockType(row.storage_type) && p.import) {
      row.storage_path = p.vgUUID ?? "";
      await importFound(e, host, row, { what: `volume group ${row.storage_path}`, matches: (info) => info.vguuid === row.storage_path }, p.id);
      await fillStats(e, host, row);
      await e.db.insertInto("storage_domains").values(row).execute();
      return row;
    }
    if (isBlockType(row.storage_type)) {
      // VDSM's order: a VG named after the domain on the LUN, then the domain on that VG.
      // lvm commands, zeroing the special LVs and the master file system take longer than a
      // usual verb on a busy host: a timeout here would leave a domain the engine never recorded.
      const slow = { timeoutMs: BLOCK_VERB_MS };
      const vgUUID = String(await e.nodes.for(host).call("createVG", { vgname: row.id, devlist: [row.storage_address], force: false }, slow));
      row.storage_path = vgUUID;
      await e.nodes.for(host).call(
        "createStorageDomain",
        { storageType: connectionOf(row).domType, sdUUID: row.id, domainName: row.name, typeSpecificArg: vgUUID, domClass: 1, domVersion: 5 },
        slow,
      );
      await fillStats(e, host, row);
      await e.db.insertInto("storage_domains").values(row).execute();
      return row;
    }
    await connectServer(e, host, row);
    revert.push("disconnect storage server", () => disconnectServer(e, host, row));
    const conn = connectionOf(row);
    if (p.import) {
      await importFound(e, host, row, { what: conn.connection, matches: (info) => info.remotePath === conn.connection }, p.id);
      await fillStats(e, host, row);
      await e.db.insertInto("storage_domains").values(row).execute();
      return row;
    }
    await e.nodes.for(host).call("createStorageDomain", {
      storageType: conn.domType,
      sdUUID: row.id,
      domainName: row.name,
      typeSpecificArg: conn.connection,
      domClass: row.type === "iso" ? 2 : 1,
      domVersion: 5,
    });
    await fillStats(e, host, row);
    await e.db.insertInto("storage_domains").values(row).execute();
    return row;
  },
};

async function fillStats(e: Engine, host: Host, row: StorageDomain): Promise<void> {
  try {
    const stats = await e.nodes.for(host).call("getStorageDomainStats", { sdUUID: row.id });
    const free = Number(stats.diskfree);
    const total = Number(stats.disktotal);
    if (Number.isFinite(free)) row.available = free;
    if (Number.isFinite(total) && Number.isFinite(free)) row.used = total - free;
  } catch (err) {
    e.log.warn({ err, sd: row.id }, "no stats for the storage domain");
  }
}

/** Where an imported domain is looked for: its connection (file) or its volume group (block). */
interface Place {
  what: string;
  matches: (info: DomainInfo) => boolean;
}

/**
 * Finds the domain at the place among those the host now sees, checks its metadata, and fills
 * `row` (id, name) from it. The engine's own checks run before anything is recorded.
 */
async function importFound(e: Engine, host: Host, row: StorageDomain, place: Place, wanted: string | undefined): Promise<void> {
  const connection = place.what;
  const client = e.nodes.for(host);
  const listed = await client.call("getStorageDomainsList", {});
  const found: { id: string; info: DomainInfo }[] = [];
  for (const id of listed) {
    if (await e.db.selectFrom("storage_domains").select("id").where("id", "=", id).executeTakeFirst()) continue;
    const info = await client.call("getStorageDomainInfo", { sdUUID: id }).catch(() => undefined);
    if (info && place.matches(info)) found.push({ id, info });
  }
  const pick = wanted ? found.find((f) => f.id === wanted) : found.length === 1 ? found[0] : undefined;
  if (!pick) {
    if (!wanted && found.length > 1) throw conflict(`Cannot import Storage Domain: ${found.length} domains at ${connection}; give the id of one`);
    throw new ApiFault(404, "Operation Failed", `Cannot import Storage Domain: no storage domain unknown to the engine found at ${connection}${wanted ? ` with id ${wanted}` : ""}`);
  }
  const info = pick.info;
  if (info.class !== "Data") throw conflict(`Cannot import Storage Domain ${pick.id}: its class is ${info.class}, only Data domains are supported`);
  if (info.type !== MD_TYPE[row.storage_type]) {
    throw conflict(`Cannot import Storage Domain ${pick.id}: it is a ${info.type} domain, not ${row.storage_type}`);
  }
  const pools = info.pool.filter(Boolean);
  if (pools.length) throw conflict(`Cannot import Storage Domain ${pick.id}: it is still attached to storage pool ${pools.join(", ")}; detach it there first`);
  row.id = pick.id;
  if (!row.name) {
    const name = info.name.trim();
    if (!Name.safeParse(name).success || name.length > 50) throw badRequest(`StorageDomain [name] required for import: the domain's own name '${name.slice(0, 60)}' is not usable`);
    row.name = name;
  }
  const clash = await e.db.selectFrom("storage_domains").select("id").where("name", "=", row.name).executeTakeFirst();
  if (clash) throw conflict(`Cannot import Storage Domain. The name ${row.name} is already in use.`);
  row.storage_format = `v${Number(info.version)}`;
}
