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

/**
 * An iSCSI portal address: an IPv4 address, a bracketed IPv6 address or a DNS name (no user
 * part, no spaces: it reaches iscsiadm's argv as `address:port`).
 */
export const IscsiAddress = z
  .string()
  .max(255)
  .refine((s) => iscsiAddressProblem(s) === undefined, { message: "not an IPv4 address, [IPv6] address or host name" });
export function iscsiAddressProblem(s: string): string | undefined {
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (ipv4) return ipv4.slice(1).every((o) => Number(o) <= 255) ? undefined : `${s}: an IPv4 octet is over 255`;
  if (/^\[[0-9A-Fa-f:.]{2,45}\]$/.test(s) && s.includes(":")) return undefined;
  if (/^[0-9.]+$/.test(s)) return `${s}: not a full IPv4 address`;
  const labels = s.split(".");
  if (s.length <= 253 && labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))) return undefined;
  return `${JSON.stringify(s)} is not an IPv4 address, [IPv6] address or host name`;
}
/**
 * An iSCSI qualified name (RFC 3720 3.2.6): `iqn.YYYY-MM.reversed.domain[:suffix]` or
 * `eui.` + 16 hex digits or `naa.` + 16/32 hex digits; lower case, no spaces.
 */
export const IQN_RE = /^(iqn\.\d{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[a-z0-9.:_-]{1,200})?|eui\.[0-9a-f]{16}|naa\.([0-9a-f]{16}|[0-9a-f]{32}))$/;
export const Iqn = z.string().max(223).regex(IQN_RE, "not an iSCSI qualified name (iqn.YYYY-MM.domain[:name], eui.<16 hex>)");
export const IscsiPort = z.coerce.number().int().min(1).max(65535);
/** What discovery needs: the portal, and CHAP credentials when the portal asks for them. */
export const IscsiPortal = z.object({
  connection: IscsiAddress,
  port: IscsiPort.optional().default(3260),
  user: z.string().max(256).regex(/^[^\n\r\0]*$/).optional(),
  password: z.string().max(256).regex(/^[^\n\r\0]*$/).optional(),
});
/** A discovered target as VDSM's fullTargets lists it: `address:port,tpgt iqn`. */
export const FullTarget = z.string().regex(/^\S+:\d+,\d+ \S+$/);

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
  /** iSCSI SendTargets discovery through open-iscsi's iscsiadm (logins: connectStorageServer, domType 3). */
  discoverSendTargets: verb("discoverSendTargets", "ISCSIConnection.discoverSendTargets", [p("con", IscsiPortal, "host")], out("fullTargets", z.array(FullTarget))),
} as const;

/** The VG name createVG is given for a domain is the domain's UUID. */
export const VgName = Uuid;
