/**
 * Block-storage verbs (LUNs and LVM volume groups) with VDSM's names, and the zod schemas of
 * their results, so the node checks what it sends and the engine what it receives.
 * A LUN is named by its GUID (a multipath WWID on real hosts; `vela<hex>` for a loop LUN).
 */
import { z } from "zod";
import { Uuid } from "../schemas.js";
import { out, p, verb } from "../verb.js";
import { Bool, DomainId } from "./common.js";
import { StorageTypeId } from "./storage.js";

/** A LUN GUID: lower-case letters and digits only, so it is safe in a path, argv or regex. */
export const LunGuid = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => /^[0-9a-z]{1,64}$/.test(s), { message: "not a LUN GUID" });
/** LVM's own UUID format (6-4-4-4-4-4-6 characters). */
export const LvmUuid = z.string().regex(/^[A-Za-z0-9]{6}(-[A-Za-z0-9]{4}){5}-[A-Za-z0-9]{6}$/, "not an LVM UUID");

export const LunInfo = z.object({
  GUID: z.string(),
  capacity: z.string().regex(/^[0-9]+$/),
  vendorID: z.string(),
  productID: z.string(),
  serial: z.string(),
  status: z.enum(["free", "used"]),
  devtype: z.enum(["FCP", "iSCSI"]),
  pvUUID: z.string(),
  vgUUID: z.string(),
  pvsize: z.string(),
  logicalblocksize: z.string(),
  physicalblocksize: z.string(),
  pathstatus: z.array(z.object({ physdev: z.string(), state: z.enum(["active", "failed"]) })),
});
export type LunInfo = z.infer<typeof LunInfo>;
export const DeviceListResult = z.object({ devList: z.array(LunInfo) });

export const VgInfo = z.object({
  name: z.string(),
  vgUUID: z.string(),
  vgsize: z.string(),
  vgfree: z.string(),
  type: z.number().int(),
  attr: z.object({ permission: z.string(), resizeable: z.string(), exported: z.string(), partial: z.string(), allocation: z.string(), clustered: z.string() }),
  state: z.enum(["OK", "PARTIAL"]),
  pvlist: z.array(LunInfo),
});
export type VgInfo = z.infer<typeof VgInfo>;
export const VgInfoResult = z.object({ info: VgInfo });
export const CreateVgResult = z.object({ uuid: z.string() });

export const blockVerbs = {
  getDeviceList: verb(
    "getDeviceList",
    "Host.getDeviceList",
    [
      p("storageType", StorageTypeId.optional(), "storageType"),
      p("guids", z.array(LunGuid).max(256).optional(), "guids"),
      p("checkStatus", Bool.optional().default(true), "checkStatus"),
    ],
    out("devList", z.array(LunInfo)),
  ),
  createVG: verb(
    "createVG",
    "LVMVolumeGroup.create",
    [p("vgname", DomainId, "name"), p("devlist", z.array(LunGuid).min(1).max(64), "devlist"), p("force", Bool.optional().default(false), "force")],
    out("uuid", z.string()),
  ),
  getVGInfo: verb("getVGInfo", "LVMVolumeGroup.getInfo", [p("vgUUID", LvmUuid, "lvmvolumegroupID")], out("info", VgInfo)),
} as const;

/** The VG name createVG is given for a domain is the domain's UUID. */
export const VgName = Uuid;
