/**
 * Identifiers shared by engine and node: the blank UUID and the canonical UUID form. Free of zod
 * and of any I/O, so that the engine can import it (as `@vela/protocol/ids`) on its start-up path;
 * the zod schemas built on it are in schemas.ts.
 */

/** The zero UUID: VDSM's BLANK_UUID, "no parent" and the Blank template's id. */
export const BLANK_UUID = "00000000-0000-0000-0000-000000000000";

/** A canonical (lower-case) UUID; the zero UUID included. Also what names a directory of ids. */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `s` is a UUID in any case. */
export function isUuid(s: unknown): s is string {
  return typeof s === "string" && UUID_RE.test(s.toLowerCase());
}

/** The canonical lower-case form of a UUID, or undefined when `s` is not one. */
export function asUuid(s: unknown): string | undefined {
  if (typeof s !== "string") return undefined;
  const l = s.toLowerCase();
  return UUID_RE.test(l) ? l : undefined;
}

/**
 * A one-time join token (`vela join-token`): `<id>.<secret>`, the id 12 hex digits that name it,
 * the secret 32 base64url characters. The engine keeps SHA-256 of the whole token; a node keys
 * the HMAC that vouches for the engine's CA with that hash (hex).
 */
export const JOIN_TOKEN_RE = /^([0-9a-f]{12})\.([A-Za-z0-9_-]{32})$/;
