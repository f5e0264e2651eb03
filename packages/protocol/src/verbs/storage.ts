/**
 * Storage verbs: storage server connections, domains, pools, volumes, images and tasks, with
 * VDSM's XML-RPC names and positional parameters and VDSM 4.x JSON-RPC names.
 * Enumerations carry VDSM's numbers (storage-format.md).
 */
import { z } from "zod";
import { BLANK_UUID, Bytes, Text, Uuid } from "../ids.js";
import { p, verb } from "../verb.js";
import { Bool, DomainId, ImageId, Int, PoolId, TaskId, VolumeId } from "./common.js";

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

export const storageVerbs = {
  connectStorageServer: verb(
    "connectStorageServer",
    "StoragePool.connectStorageServer",
    [
      p("domType", StorageTypeId, "domainType"),
      p("spUUID", z.union([PoolId, z.literal("")]).transform((v) => v || BLANK_UUID), "storagepoolID"),
      p("conList", z.array(Connection).max(64), "connectionParams"),
    ],
    "statuslist",
  ),
  disconnectStorageServer: verb(
    "disconnectStorageServer",
    "StoragePool.disconnectStorageServer",
    [
      p("domType", StorageTypeId, "domainType"),
      p("spUUID", z.union([PoolId, z.literal("")]).transform((v) => v || BLANK_UUID), "storagepoolID"),
      p("conList", z.array(Connection).max(64), "connectionParams"),
    ],
    "statuslist",
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
  ),
  getStorageDomainInfo: verb(
    "getStorageDomainInfo",
    "StorageDomain.getInfo",
    [p("sdUUID", DomainId, "storagedomainID")],
    "info",
  ),
  getStorageDomainStats: verb(
    "getStorageDomainStats",
    "StorageDomain.getStats",
    [p("sdUUID", DomainId, "storagedomainID")],
    "stats",
  ),
  getStorageDomainsList: verb(
    "getStorageDomainsList",
    "Host.getStorageDomains",
    [p("spUUID", OptUuid, "storagepoolID")],
    "domlist",
  ),
  getImagesList: verb("getImagesList", "StorageDomain.getImages", [p("sdUUID", DomainId, "storagedomainID")], "imageslist"),
  getVolumesList: verb(
    "getVolumesList",
    "StorageDomain.getVolumes",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", OptUuid, "imageID"),
    ],
    "uuidlist",
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
  ),
  disconnectStoragePool: verb(
    "disconnectStoragePool",
    "StoragePool.disconnect",
    [p("spUUID", PoolId, "storagepoolID"), p("hostID", Int, "hostID"), p("scsiKey", z.string().max(64).optional(), "scsiKey")],
  ),
  getStoragePoolInfo: verb(
    "getStoragePoolInfo",
    "StoragePool.getInfo",
    [p("spUUID", PoolId, "storagepoolID")],
    "info",
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
    "uuid",
  ),
  spmStop: verb("spmStop", "StoragePool.spmStop", [p("spUUID", PoolId, "storagepoolID")]),
  /** Re-reads the pool from its (possibly new) master domain; the SPM refuses a master change. */
  refreshStoragePool: verb(
    "refreshStoragePool",
    "StoragePool.refresh",
    [p("spUUID", PoolId, "storagepoolID"), p("msdUUID", DomainId, "masterSdUUID"), p("masterVersion", Int, "masterVersion")],
  ),
  /** Detaches every domain and takes the master role away; the pool is gone from storage. */
  destroyStoragePool: verb(
    "destroyStoragePool",
    "StoragePool.destroy",
    [p("spUUID", PoolId, "storagepoolID"), p("hostID", Int, "hostID"), p("scsiKey", z.string().max(64).optional(), "scsiKey")],
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
    "uuid",
  ),
  getSpmStatus: verb("getSpmStatus", "StoragePool.getSpmStatus", [p("spUUID", PoolId, "storagepoolID")], "spm_st"),
  // Vela additions for SPM self-election and the pool mailbox (no VDSM equivalent).
  /** Host ids, liveness and election state of the pool as seen from this host. */
  getPoolHostsStatus: verb("getPoolHostsStatus", "StoragePool.getHostsStatus", [p("spUUID", PoolId, "storagepoolID")], "hostsStatus"),
  /** This host's SPM priority (0 = never by itself) and whether it self-elects. */
  setSpmPriority: verb(
    "setSpmPriority",
    "StoragePool.setSpmPriority",
    [
      p("spUUID", PoolId, "storagepoolID"),
      p("priority", Int.refine((n) => n >= 0 && n <= 100, { message: "priority must be 0..100" }), "priority"),
      p("autoElect", Bool.optional(), "autoElect"),
    ],
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
    "mailboxReply",
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
    "uuid",
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
    "uuid",
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
    "info",
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
    "info",
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
  ),
  getTaskStatus: verb("getTaskStatus", "Task.getStatus", [p("taskID", TaskId)], "taskStatus"),
  getTaskInfo: verb("getTaskInfo", "Task.getInfo", [p("taskID", TaskId)], "TaskInfo"),
  clearTask: verb("clearTask", "Task.clear", [p("taskID", TaskId)]),
  stopTask: verb("stopTask", "Task.stop", [p("taskID", TaskId)]),
  revertTask: verb("revertTask", "Task.revert", [p("taskID", TaskId)]),

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
    "uuid",
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
    "uuid",
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
    "uuid",
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
    "uuid",
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
    ],
    "uuid",
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
  ),
  attachStorageDomain: verb(
    "attachStorageDomain",
    "StorageDomain.attach",
    [p("sdUUID", DomainId, "storagedomainID"), p("spUUID", PoolId, "storagepoolID")],
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
  ),
  activateStorageDomain: verb(
    "activateStorageDomain",
    "StorageDomain.activate",
    [p("sdUUID", DomainId, "storagedomainID"), p("spUUID", PoolId, "storagepoolID")],
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
  ),
  formatStorageDomain: verb(
    "formatStorageDomain",
    "StorageDomain.format",
    [p("sdUUID", DomainId, "storagedomainID"), p("autoDetach", Bool.optional().default(false), "autoDetach")],
  ),
} as const;
