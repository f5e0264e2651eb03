/**
 * Identifiers of the engine's own objects. The UUID helpers are protocol's ids module (zod-free,
 * so importing it costs nothing on the start-up path).
 */
import { createHash } from "node:crypto";
import { BLANK_UUID } from "@vela/protocol/ids";

export { asUuid } from "@vela/protocol/ids";

/** The Blank template's id: the blank UUID, as in oVirt. */
export const BLANK_TEMPLATE_ID = BLANK_UUID;

/** admin@internal's id, as oVirt gives it. */
export const ADMIN_USER_ID = "fdfc627c-d875-11e0-90f0-83df133b58cc";

/** The system object (the root of the permission tree) has the blank UUID, as in oVirt. */
export const SYSTEM_ID = BLANK_UUID;

/** SuperUser's role id, as in oVirt (predefined roles are in permissions/roles.ts). */
export const SUPER_USER_ROLE_ID = "00000000-0000-0000-0000-000000000001";

/**
 * The default CPU profile of a cluster and the default disk profile of a storage domain (oVirt
 * makes one per cluster / domain when it is created, named after it). Vela has no other profiles
 * (no QoS), so a default profile exists exactly while its cluster or domain does: its id is
 * derived from the owner's (a name-based UUID, version 5 layout), stable across restarts and
 * backups, and no table or migration can drift from the owners.
 */
export function defaultProfileId(kind: "cpu" | "disk", ownerId: string): string {
  const h = createHash("sha1").update(`vela-${kind}-profile:${ownerId.toLowerCase()}`).digest("hex");
  const variant = ((parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
