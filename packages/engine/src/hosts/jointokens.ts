/**
 * One-time join tokens, for `vela-node join https://ENGINE --token T` on a machine the
 * administrator is adding: made by `vela join-token` with a lifetime, good for one host. The
 * first host that presents a valid token gets it (it is trusted as the configured registration
 * token would make it); that host may present it again (an agent restarted with the same
 * node.conf), any other host is refused with a message that says so, as is an expired token.
 *
 * A token reads `<id>.<secret>`: the id finds the row without a scan, the secret proves it. Only
 * SHA-256 of the whole token is stored. The CA a node fetches before it trusts the engine is
 * vouched for by an HMAC keyed with that hash, which the node can compute from its token.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { JOIN_TOKEN_RE } from "@vela/protocol/ids";
import type { Db } from "../db/index.js";
import { now } from "../db/schema.js";
import { ApiFault } from "../errors/fault.js";

const FORMAT = JOIN_TOKEN_RE;
/** Lifetimes `vela join-token --ttl` accepts, in minutes: a minute to a week. */
export const TTL_MIN = 1;
export const TTL_MAX = 7 * 24 * 60;

export function isJoinToken(token: string): boolean {
  return FORMAT.test(token);
}

function sha256(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function createJoinToken(db: Db, ttlMinutes: number): Promise<{ token: string; id: string; expires: string }> {
  if (!Number.isInteger(ttlMinutes) || ttlMinutes < TTL_MIN || ttlMinutes > TTL_MAX) {
    throw new RangeError(`the lifetime is whole minutes from ${TTL_MIN} to ${TTL_MAX}`);
  }
  const id = randomBytes(6).toString("hex");
  const token = `${id}.${randomBytes(24).toString("base64url")}`;
  const expires = new Date(Date.now() + ttlMinutes * 60_000).toISOString();
  await db.insertInto("join_tokens").values({ id, token_sha256: sha256(token), created_at: now(), expires_at: expires, used_at: null, used_by: null }).execute();
  return { token, id, expires };
}

/** The row of a token whose secret matches, else undefined (a wrong token is just not trusted). */
async function find(db: Db, token: string) {
  const m = FORMAT.exec(token);
  if (!m) return undefined;
  const row = await db.selectFrom("join_tokens").selectAll().where("id", "=", m[1] as string).executeTakeFirst();
  if (!row) return undefined;
  const a = Buffer.from(row.token_sha256, "hex");
  const b = Buffer.from(sha256(token), "hex");
  return a.length === b.length && timingSafeEqual(a, b) ? row : undefined;
}

function expired(expiresAt: string): boolean {
  return Date.parse(expiresAt) <= Date.now();
}

/**
 * True when `token` is a one-time token this host may use (claiming it on first use); false for
 * a token that is not one of ours. Throws 403 for a token used by another host, or expired.
 */
export async function claimJoinToken(db: Db, token: string, hostUuid: string): Promise<boolean> {
  const row = await find(db, token);
  if (!row) return false;
  const host = hostUuid.toLowerCase();
  if (row.used_by === host) return true;
  if (row.used_by) {
    throw new ApiFault(403, "Forbidden", `join token ${row.id} was already used by another host at ${row.used_at}: make a new one with \`vela join-token\``);
  }
  if (expired(row.expires_at)) throw new ApiFault(403, "Forbidden", `join token ${row.id} expired at ${row.expires_at}: make a new one with \`vela join-token\``);
  // Only one of two hosts racing with the same token gets it.
  const r = await db.updateTable("join_tokens").set({ used_at: now(), used_by: host }).where("id", "=", row.id).where("used_by", "is", null).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 1) return true;
  return claimJoinToken(db, token, hostUuid);
}

/** The HMAC key for the CA a node with this token fetches: the token's stored hash, if usable. */
export async function caKeyForToken(db: Db, tokenId: string): Promise<string> {
  const row = /^[0-9a-f]{12}$/.test(tokenId) ? await db.selectFrom("join_tokens").selectAll().where("id", "=", tokenId).executeTakeFirst() : undefined;
  if (!row) throw new ApiFault(404, "Not Found", `no join token ${tokenId.slice(0, 16)}: make one with \`vela join-token\``);
  if (!row.used_by && expired(row.expires_at)) throw new ApiFault(403, "Forbidden", `join token ${row.id} expired at ${row.expires_at}: make a new one with \`vela join-token\``);
  return row.token_sha256;
}
