/**
 * Identifiers of the engine's own objects. The UUID helpers are protocol's ids module (zod-free,
 * so importing it costs nothing on the start-up path).
 */
import { BLANK_UUID } from "@vela/protocol/ids";

export { asUuid } from "@vela/protocol/ids";

/** The Blank template's id: the blank UUID, as in oVirt. */
export const BLANK_TEMPLATE_ID = BLANK_UUID;
