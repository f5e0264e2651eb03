/**
 * Identifiers of the engine's own objects. The UUID helpers are protocol's ids module (zod-free,
 * so importing it costs nothing on the start-up path).
 */
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
