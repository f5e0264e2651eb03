/**
 * Storage verbs: storage server connections, domains, pools, volumes, images and tasks, with
 * VDSM's XML-RPC names and positional parameters and VDSM 4.x JSON-RPC names.
 * Enumerations carry VDSM's numbers (storage-format.md).
 */
import { z } from "zod";
import { BLANK_UUID } from "../ids.js";
import { Bytes, Text, Uuid } from "../schemas.js";
import { done, members, out, p, verb } from "../verb.js";
import { Bool, DomainId, IdList, ImageId, Int, PoolId, TaskId, TaskInfo, TaskStatus, UuidString, VolumeId } from "./common.js";

/** VDSM's storage types (sd.py): NFS=1, FCP=2, ISCSI=3, LOCALFS=4, CIFS=5, POSIXFS=6, GLUSTERFS=7. */
export const StorageType = { NFS: 1, FCP: 2, ISCSI: 3, LOCALFS: 4, CIFS: 5, POSIXFS: 6, GLUSTERFS: 7 } as const;
export type StorageTypeName = keyof typeof StorageType;
export const StorageTypeId = Int.refine((n) => Object.values(StorageType).includes(n as never), {
  message: "unknown storage type",
});

/** Domain classes: Data=1, Iso=2, Backup=3. */
export const DomainClass = { Data: 1, Iso: 2, Backup: 3 } as const;
export const DomainClassId = Int.refine((n) => n === 1 || n === 2 || n === 3, { message: "unknown domain class" });

/** Volume enumerations as numbers on the wire (storage-format.md). */
export const VolumeType = { PREALLOCATED: 1, SPARSE: 2 } as const;
export const VolumeFormat = { COW: 4, RAW: 5 } as const;
export const VolumeRole = { SHARED: 6, INTERNAL: 7, LEAF: 8 } as const;

/** Accepts the number (VDSM's XML-RPC) or the name (JSON clients) of an enum member. */
function enumOf<T extends Record<string, number>>(e: T, what: string) {
  const names = Object.keys(e);
  const nums = Object.values(e);
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const s = String(v).toUpperCase();
    if (names.includes(s)) return s as keyof T & string;
    const n = Number(v);
    const i = nums.indexOf(n);
    if (i >= 0) return names[i] as keyof T & string;
    ctx.addIssue({ code: "custom", message: `unknown ${what}: ${String(v)}` });
    return z.NEVER;
  });
}
export const VolFormat = enumOf(VolumeFormat, "volume format");
export const Preallocate = enumOf(VolumeType, "volume type");

export const DiskTypes = ["DATA", "ISOF", "MEMD", "MEMM", "OVFS", "LEAS", "HEVD", "2"] as const;
export const DiskType = z
  .string()
  .transform((s) => (s === "2" ? "DATA" : s.toUpperCase()))
  .refine((s) => (DiskTypes as readonly string[]).includes(s), { message: "unknown disk type" });

/** A storage server connection (VDSM conList entry). */
export const Connection = z.object({
  id: Uuid,
  connection: z.string().min(1).max(4096),
  vfs_type: z.string().max(32).optional(),
  mnt_options: z.string().max(1024).optional(),
  user: z.string().max(256).optional(),
  password: z.string().max(256).optional(),
  /** iSCSI (domType 3): the target's port, name and portal group tag; `connection` is the portal address. */
  port: z.union([z.string().max(5), z.number()]).optional(),
  iqn: z.string().max(223).optional(),
  tpgt: z.union([z.string().max(5), z.number()]).optional(),
});
export type Connection = z.infer<typeof Connection>;

const OptUuid = Uuid.optional().default(BLANK_UUID);
/** A VM reference that VDSM's callers often send empty. */
const VmRef = z.union([Uuid, z.literal("")]).optional().default("");
/** copyImage's volType: SHARED (template, VDSM's default) or LEAF/INTERNAL, by number or name. */
const VolRoleOrDefault = z
  .union([z.number(), z.string()])
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === "") return "SHARED" as const;
    const s = String(v).toUpperCase();
    const byNum: Record<string, "SHARED" | "INTERNAL" | "LEAF"> = { "6": "SHARED", "7": "INTERNAL", "8": "LEAF" };
    const r = byNum[s] ?? (["SHARED", "INTERNAL", "LEAF"].includes(s) ? (s as "SHARED" | "INTERNAL" | "LEAF") : undefined);
    if (!r) {
      ctx.addIssue({ code: "custom", message: `unknown volume type ${String(v)}` });
      return z.NEVER;
    }
    return r;
  });
/** 0 (VDSM's UNKNOWN_VOL) or absent means "as the source". */
const VolFormatOrSame = z.union([z.literal(0), z.literal("0"), z.literal("")]).optional().transform(() => "SAME" as const).or(VolFormat);
const PreallocateOrSame = z.union([z.literal(0), z.literal("0"), z.literal("")]).optional().transform(() => "SAME" as const).or(Preallocate);


// Result shapes (what JSON-RPC returns as `result`). Metadata values come as VDSM sent them:
// mostly strings, even for numbers.

/** connectStorageServer: one status per connection, 0 = connected (else a VDSM error code). */
export const ConnectionStatus = z.array(z.object({ id: z.string(), status: z.number() }));

/** StorageDomain.getInfo: the domain's metadata; `pool` lists the pools it belongs to. */
export const DomainInfo = z.looseObject({
  uuid: z.string(),
  /** LOCALFS, POSIXFS, NFS… */
  type: z.string(),
  /** Data, Iso, Backup. */
  class: z.string(),
  name: z.string(),
  role: z.string(),
  pool: z.array(z.string()),
  version: z.string(),
  remotePath: z.string(),
  /** On a master domain: the SPM's generation and id, and the master version. */
  lver: z.string().optional(),
  spm_id: z.string().optional(),
  master_ver: z.string().optional(),
});
export type DomainInfo = z.infer<typeof DomainInfo>;

/** StorageDomain.getStats: space in bytes (as strings) and, once checked, the monitor's health. */
export const DomainStats = z.looseObject({
  disktotal: z.string(),
  diskfree: z.string(),
  valid: z.boolean().optional(),
  code: z.number().optional(),
});
export type DomainStats = z.infer<typeof DomainStats>;

/** StoragePool.getInfo's `info` (the per-domain `dominfo` stays on XML-RPC). */
export const PoolInfo = z.looseObject({
  spm_id: z.number(),
  master_uuid: z.string(),
  name: z.string(),
  pool_status: z.string(),
  master_ver: z.number(),
  lver: z.number(),
});
export type PoolInfo = z.infer<typeof PoolInfo>;

/** StoragePool.getSpmStatus: this host's role (Free, Contend, SPM) and the pool's SPM id and LVER. */
export const SpmStatus = z.looseObject({ spmStatus: z.enum(["Free", "Contend", "SPM"]), spmLver: z.number(), spmId: z.number() });
export type SpmStatus = z.infer<typeof SpmStatus>;

/** StoragePool.getHostsStatus: this host's election view and the host ids it sees. */
export const PoolHostsStatus = z.looseObject({
  hostId: z.number(),
  hostUuid: z.string(),
  role: z.string(),
  lver: z.number(),
  priority: z.number(),
  autoElect: z.boolean(),
  hosts: z.array(z.looseObject({ hostId: z.number(), live: z.boolean(), state: z.string() })),
});
export type PoolHostsStatus = z.infer<typeof PoolHostsStatus>;

/** StoragePool.mailboxRequest: the SPM's reply and how long it took. */
export const MailboxReply = z.looseObject({ elapsedMs: z.number() });

/** Volume.getInfo: the volume's metadata (VDSM's names) and its sizes on storage. */
export const VolumeInfo = z.looseObject({
  uuid: z.string(),
  /** PREALLOCATED or SPARSE. */
  type: z.string(),
  /** COW or RAW. */
  format: z.string(),
  disktype: z.string(),
  /** LEAF, INTERNAL or SHARED. */
  voltype: z.string(),
  /** Virtual size in bytes. */
  capacity: z.string(),
  /** The parent volume, BLANK_UUID for a base. */
  parent: z.string(),
  description: z.string(),
  domain: z.string(),
  image: z.string(),
  ctime: z.string(),
  /** LEGAL, ILLEGAL or FAKE. */
  legality: z.string(),
  generation: z.number(),
  apparentsize: z.string(),
  truesize: z.string(),
  /** OK, INVALID (unreadable) or ILLEGAL. */
  status: z.string(),
  children: z.array(z.string()),
});
export type VolumeInfo = z.infer<typeof VolumeInfo>;

/** Volume.getSize: bytes as strings (apparent: the file's size; true: what it occupies). */
export const VolumeSize = z.looseObject({ apparentsize: z.string(), truesize: z.string() });

/** Image.prepare's `info`: where the leaf volume is. */
export const PreparedImageInfo = z.looseObject({ type: z.string(), path: z.string(), volType: z.string() });

export const storageVerbs = {
  connectStorageServer: verb(
    "connectStorageServer",
    "StoragePool.connectStorageServer",
    [
      p("domType", StorageTypeId, "domainType"),
      p("spUUID", z.union([PoolId, z.literal("")]).transform((v) => v || BLANK_UUID), "storagepoolID"),
      p("conList", z.array(Connection).max(64), "connectionParams"),
    ],
    out("statuslist", ConnectionStatus),
  ),
  disconnectStorageServer: verb(
    "disconnectStorageServer",
    "StoragePool.disconnectStorageServer",
    [
      p("domType", StorageTypeId, "domainType"),
      p("spUUID", z.union([PoolId, z.literal("")]).transform((v) => v || BLANK_UUID), "storagepoolID"),
      p("conList", z.array(Connection).max(64), "connectionParams"),
    ],
    out("statuslist", ConnectionStatus),
  ),
  createStorageDomain: verb(
    "createStorageDomain",
    "StorageDomain.create",
    [
      p("storageType", StorageTypeId, "domainType"),
      p("sdUUID", DomainId, "storagedomainID"),
      p("domainName", Text(50), "name"),
      p("typeSpecificArg", z.string().min(1).max(4096), "typeArgs"),
      p("domClass", DomainClassId, "domainClass"),
      p("domVersion", Int.optional().default(5), "version"),
      p("blockSize", Int.optional().default(512), "blockSize"),
      p("maxHosts", Int.optional().default(250), "maxHosts"),
    ],
    done,
  ),
  getStorageDomainInfo: verb(
    "getStorageDomainInfo",
    "StorageDomain.getInfo",
    [p("sdUUID", DomainId, "storagedomainID")],
    out("info", DomainInfo),
  ),
  getStorageDomainStats: verb(
    "getStorageDomainStats",
    "StorageDomain.getStats",
    [p("sdUUID", DomainId, "storagedomainID")],
    out("stats", DomainStats),
  ),
  getStorageDomainsList: verb(
    "getStorageDomainsList",
    "Host.getStorageDomains",
    [p("spUUID", OptUuid, "storagepoolID")],
    out("domlist", IdList),
  ),
  getImagesList: verb("getImagesList", "StorageDomain.getImages", [p("sdUUID", DomainId, "storagedomainID")], out("imageslist", IdList)),
  getVolumesList: verb(
    "getVolumesList",
    "StorageDomain.getVolumes",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", OptUuid, "imageID"),
    ],
    out("uuidlist", IdList),
  ),
  createStoragePool: verb(
    "createStoragePool",
    "StoragePool.create",
    [
      p("poolType", Int.optional().default(0), "poolType"),
      p("spUUID", PoolId, "storagepoolID"),
      p("poolName", Text(50), "name"),
      p("masterDom", DomainId, "masterSdUUID"),
      p("domList", z.array(DomainId).min(1).max(100), "domainList"),
      p("masterVersion", Int, "masterVersion"),
      p("lockPolicy", z.string().max(32).optional(), "lockPolicy"),
      p("lockRenewalIntervalSec", Int.optional().default(5), "lockRenewalIntervalSec"),
      p("leaseTimeSec", Int.optional().default(60), "leaseTimeSec"),
      p("ioOpTimeoutSec", Int.optional().default(10), "ioOpTimeoutSec"),
      p("leaseRetries", Int.optional().default(3), "leaseRetries"),
    ],
    done,
  ),
  connectStoragePool: verb(
    "connectStoragePool",
    "StoragePool.connect",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("hostID", Int.refine((n) => n >= 1 && n <= 2000, { message: "host id out of range" }), "hostID"),
      p("scsiKey", z.string().max(64).optional(), "scsiKey"),
      p("msdUUID", DomainId, "masterSdUUID"),
      p("masterVersion", Int, "masterVersion"),
    ],
    done,
  ),
  disconnectStoragePool: verb(
    "disconnectStoragePool",
    "StoragePool.disconnect",
    [p("spUUID", PoolId, "storagepoolID"), p("hostID", Int, "hostID"), p("scsiKey", z.string().max(64).optional(), "scsiKey")],
    done,
  ),
  getStoragePoolInfo: verb(
    "getStoragePoolInfo",
    "StoragePool.getInfo",
    [p("spUUID", PoolId, "storagepoolID")],
    out("info", PoolInfo),
  ),
  spmStart: verb(
    "spmStart",
    "StoragePool.spmStart",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("prevID", Int.optional().default(-1), "prevID"),
      p("prevLVER", z.union([z.string(), z.number()]).optional().default(-1).transform(String), "prevLver"),
      p("recoveryMode", Int.optional().default(0), "enableScsiFencing"),
      p("scsiFencing", Bool.optional().default(false), "scsiFencing"),
      p("maxHostID", Int.optional().default(250), "maxHostID"),
      p("domVersion", Int.optional().default(5), "domVersion"),
    ],
    out("uuid", UuidString),
  ),
  spmStop: verb("spmStop", "StoragePool.spmStop", [p("spUUID", PoolId, "storagepoolID")], done),
  /** Re-reads the pool from its (possibly new) master domain; the SPM refuses a master change. */
  refreshStoragePool: verb(
    "refreshStoragePool",
    "StoragePool.refresh",
    [p("spUUID", PoolId, "storagepoolID"), p("msdUUID", DomainId, "masterSdUUID"), p("masterVersion", Int, "masterVersion")],
    done,
  ),
  /** Detaches every domain and takes the master role away; the pool is gone from storage. */
  destroyStoragePool: verb(
    "destroyStoragePool",
    "StoragePool.destroy",
    [p("spUUID", PoolId, "storagepoolID"), p("hostID", Int, "hostID"), p("scsiKey", z.string().max(64).optional(), "scsiKey")],
    done,
  ),
  /** Rebuilds the pool's metadata on `masterDom` when the master domain is lost. */
  reconstructMaster: verb(
    "reconstructMaster",
    "StoragePool.reconstructMaster",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("poolName", Text(50), "name"),
      p("masterDom", DomainId, "masterSdUUID"),
      p(
        "domDict",
        z.record(DomainId, z.string().transform((s) => s.toLowerCase()).pipe(z.enum(["active", "attached"]))).refine((d) => Object.keys(d).length <= 100, {
          message: "too many domains",
        }),
        "domainDict",
      ),
      p("masterVersion", Int, "masterVersion"),
      p("lockPolicy", z.string().max(32).optional(), "lockPolicy"),
      p("lockRenewalIntervalSec", Int.optional().default(5), "lockRenewalIntervalSec"),
      p("leaseTimeSec", Int.optional().default(60), "leaseTimeSec"),
      p("ioOpTimeoutSec", Int.optional().default(10), "ioOpTimeoutSec"),
      p("leaseRetries", Int.optional().default(3), "leaseRetries"),
      p("hostId", Int.optional().default(1), "hostID"),
    ],
    done,
  ),
  /** Moves the master role (master/ and the pool keys) to another active data domain (SPM task). */
  switchMaster: verb(
    "switchMaster",
    "StoragePool.switchMaster",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("oldMasterUUID", DomainId, "oldMasterUUID"),
      p("newMasterUUID", DomainId, "newMasterUUID"),
      p("masterVersion", Int, "masterVersion"),
    ],
    out("uuid", UuidString),
  ),
  getSpmStatus: verb("getSpmStatus", "StoragePool.getSpmStatus", [p("spUUID", PoolId, "storagepoolID")], out("spm_st", SpmStatus)),
  // Vela additions for SPM self-election and the pool mailbox (no VDSM equivalent).
  /** Host ids, liveness and election state of the pool as seen from this host. */
  getPoolHostsStatus: verb("getPoolHostsStatus", "StoragePool.getHostsStatus", [p("spUUID", PoolId, "storagepoolID")], out("hostsStatus", PoolHostsStatus)),
  /** This host's SPM priority (0 = never by itself) and whether it self-elects. */
  setSpmPriority: verb(
    "setSpmPriority",
    "StoragePool.setSpmPriority",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("priority", Int.refine((n) => n >= 0 && n <= 100, { message: "priority must be 0..100" }), "priority"),
      p("autoElect", Bool.optional(), "autoElect"),
    ],
    done,
  ),
  /** Sends a request through the pool mailbox to the SPM and waits for its reply. */
  sendMailboxRequest: verb(
    "sendMailboxRequest",
    "StoragePool.mailboxRequest",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("op", z.enum(["ping", "xtnd"]), "op"),
      p("sdUUID", OptUuid, "storagedomainID"),
      p("volUUID", OptUuid, "volumeID"),
      p("sizeMiB", Int.refine((n) => n >= 0 && n <= 0xffffffff, { message: "size out of range" }).optional().default(0), "sizeMiB"),
      p("timeoutMs", Int.refine((n) => n >= 1 && n <= 600_000, { message: "timeout out of range" }).optional().default(30_000), "timeoutMs"),
    ],
    out("mailboxReply", MailboxReply),
  ),
  createVolume: verb(
    "createVolume",
    "Volume.create",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("size", Bytes, "size"),
      p("volFormat", VolFormat, "volFormat"),
      p("preallocate", Preallocate, "preallocate"),
      p("diskType", DiskType, "diskType"),
      p("volUUID", VolumeId, "volumeID"),
      p("desc", Text(210).optional().default(""), "desc"),
      p("srcImgUUID", OptUuid, "srcImgUUID"),
      p("srcVolUUID", OptUuid, "srcVolUUID"),
      p("initialSize", Bytes.optional(), "initialSize"),
    ],
    out("uuid", UuidString),
  ),
  deleteVolume: verb(
    "deleteVolume",
    "Volume.delete",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("volumes", z.union([VolumeId, z.array(VolumeId).min(1).max(1000)]).transform((v) => (Array.isArray(v) ? v : [v])), "volumeID"),
      p("postZero", Bool.optional().default(false), "postZero"),
      p("force", Bool.optional().default(false), "force"),
    ],
    out("uuid", UuidString),
  ),
  getVolumeInfo: verb(
    "getVolumeInfo",
    "Volume.getInfo",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("volUUID", VolumeId, "volumeID"),
    ],
    out("info", VolumeInfo),
  ),
  getVolumeSize: verb(
    "getVolumeSize",
    "Volume.getSize",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("volUUID", VolumeId, "volumeID"),
    ],
    members(VolumeSize),
  ),
  prepareImage: verb(
    "prepareImage",
    "Image.prepare",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("leafUUID", VolumeId, "volumeID"),
      p("allowIllegal", Bool.optional().default(false), "allowIllegal"),
    ],
    out("info", PreparedImageInfo),
  ),
  teardownImage: verb(
    "teardownImage",
    "Image.teardown",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("volUUID", OptUuid, "leafVolID"),
    ],
    done,
  ),
  getTaskStatus: verb("getTaskStatus", "Task.getStatus", [p("taskID", TaskId)], out("taskStatus", TaskStatus)),
  getTaskInfo: verb("getTaskInfo", "Task.getInfo", [p("taskID", TaskId)], out("TaskInfo", TaskInfo)),
  clearTask: verb("clearTask", "Task.clear", [p("taskID", TaskId)], done),
  stopTask: verb("stopTask", "Task.stop", [p("taskID", TaskId)], done),
  revertTask: verb("revertTask", "Task.revert", [p("taskID", TaskId)], done),

  // Images and volumes, second round (VDSM's hsm.py positional order; JSON names from vdsm-api.yml).
  deleteImage: verb(
    "deleteImage",
    "Image.delete",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("postZero", Bool.optional().default(false), "postZero"),
      p("force", Bool.optional().default(false), "force"),
      p("discard", Bool.optional().default(false), "discard"),
    ],
    out("uuid", UuidString),
  ),
  moveImage: verb(
    "moveImage",
    "Image.move",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("srcDomUUID", DomainId, "storagedomainID"),
      p("dstDomUUID", DomainId, "dstSdUUID"),
      p("imgUUID", ImageId, "imageID"),
      p("vmUUID", VmRef, "vmUUID"),
      p("op", Int.refine((n) => n === 1 || n === 2, { message: "operation must be 1 (copy) or 2 (move)" }), "operation"),
      p("postZero", Bool.optional().default(false), "postZero"),
      p("force", Bool.optional().default(false), "force"),
      p("discard", Bool.optional().default(false), "discard"),
    ],
    out("uuid", UuidString),
  ),
  copyImage: verb(
    "copyImage",
    "Volume.copy",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("vmUUID", VmRef, "vmUUID"),
      p("srcImgUUID", ImageId, "imageID"),
      p("srcVolUUID", VolumeId, "volumeID"),
      p("dstImgUUID", ImageId, "dstImgUUID"),
      p("dstVolUUID", VolumeId, "dstVolUUID"),
      p("description", Text(210).optional().default(""), "desc"),
      p("dstSdUUID", OptUuid, "dstSdUUID"),
      p("volType", VolRoleOrDefault, "volType"),
      p("volFormat", VolFormatOrSame, "volFormat"),
      p("preallocate", PreallocateOrSame, "preallocate"),
      p("postZero", Bool.optional().default(false), "postZero"),
      p("force", Bool.optional().default(false), "force"),
      p("discard", Bool.optional().default(false), "discard"),
    ],
    out("uuid", UuidString),
  ),
  /** Cold merge of `successor` into its parent `ancestor` (Vela keeps VDSM's pre-4.x XML verb). */
  mergeSnapshots: verb(
    "mergeSnapshots",
    "Image.mergeSnapshots",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("vmUUID", VmRef, "vmUUID"),
      p("imgUUID", ImageId, "imageID"),
      p("ancestor", VolumeId, "ancestor"),
      p("successor", VolumeId, "successor"),
      p("postZero", Bool.optional().default(false), "postZero"),
      p("discard", Bool.optional().default(false), "discard"),
    ],
    out("uuid", UuidString),
  ),
  extendVolumeSize: verb(
    "extendVolumeSize",
    "Volume.extendSize",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("sdUUID", DomainId, "storagedomainID"),
      p("imgUUID", ImageId, "imageID"),
      p("volUUID", VolumeId, "volumeID"),
      p("newSize", Bytes, "newSize"),
      /**
       * The volume is open by a running VM (a live extension): its data is not resized here (its
       * QEMU does that with block_resize on VM.diskSizeExtend); only the LV (block) and the capacity.
       */
      p("live", Bool.optional().default(false), "live"),
    ],
    out("uuid", UuidString),
  ),
  setVolumeDescription: verb(
    "setVolumeDescription",
    "Volume.setDescription",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("volUUID", VolumeId, "volumeID"),
      p("description", Text(210).regex(/^[^\n\r\0]*$/, "line break in description"), "description"),
    ],
    done,
  ),
  setVolumeLegality: verb(
    "setVolumeLegality",
    "Volume.setLegality",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("volUUID", VolumeId, "volumeID"),
      p("legality", z.enum(["LEGAL", "ILLEGAL"]), "legality"),
    ],
    done,
  ),
  attachStorageDomain: verb(
    "attachStorageDomain",
    "StorageDomain.attach",
    [p("sdUUID", DomainId, "storagedomainID"), p("spUUID", PoolId, "storagepoolID")],
    done,
  ),
  detachStorageDomain: verb(
    "detachStorageDomain",
    "StorageDomain.detach",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("msdUUID", OptUuid, "masterSdUUID"),
      p("masterVersion", Int.optional(), "masterVersion"),
      p("force", Bool.optional().default(false), "force"),
    ],
    done,
  ),
  activateStorageDomain: verb(
    "activateStorageDomain",
    "StorageDomain.activate",
    [p("sdUUID", DomainId, "storagedomainID"), p("spUUID", PoolId, "storagepoolID")],
    done,
  ),
  deactivateStorageDomain: verb(
    "deactivateStorageDomain",
    "StorageDomain.deactivate",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("msdUUID", OptUuid, "masterSdUUID"),
      p("masterVersion", Int.optional(), "masterVersion"),
    ],
    done,
  ),
  formatStorageDomain: verb(
    "formatStorageDomain",
    "StorageDomain.format",
    [p("sdUUID", DomainId, "storagedomainID"), p("autoDetach", Bool.optional().default(false), "autoDetach")],
    done,
  ),
} as const;
