/**
 * Identifier helpers the engine needs on its start-up path. Kept free of zod (and of
 * @vela/protocol's runtime) so that importing them costs nothing; the regex is the same one the
 * protocol's Uuid schema applies.
 */
export const BLANK_TEMPLATE_ID = "00000000-0000-0000-0000-000000000000";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Canonical lower-case UUID or undefined. */
export function asUuid(s: unknown): string | undefined {
  if (typeof s !== "string") return undefined;
  const l = s.toLowerCase();
  return UUID_RE.test(l) ? l : undefined;
}
