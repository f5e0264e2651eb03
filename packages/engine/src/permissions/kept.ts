/**
 * Each user's permission rows and group memberships, kept across requests and keyed by the
 * database's `permissions` generation (migration 0017): every write to permissions, roles,
 * groups or memberships — by this engine, the CLI, another engine on the same database, or by
 * hand — bumps it in the same transaction, so a request that reads generation N (one tiny query)
 * and finds the user's rows kept under N uses them, and anything else reads them again. The rows
 * are always read after the generation, so what is kept under N is never older than N: a
 * revoked permission counts from the very next request, whoever revoked it.
 */
import type { Db } from "../db/index.js";
import { generation } from "../db/repo/generations.js";

export interface PermissionRow {
  role_id: string;
  object_type: string;
  object_id: string;
}

export interface UserRows {
  groups: string[];
  rows: PermissionRow[];
  /** Custom roles named by the rows, as stored (id, name, administrative, permits JSON). */
  roles: { id: string; name: string; description: string; administrative: number; permits: string }[];
}

/** At most this many users kept per database (the oldest dropped first): bounded memory. */
const MAX_USERS = 5000;

interface Entry {
  gen: number;
  rows: UserRows;
}

const kept = new WeakMap<Db, Map<string, Entry>>();

/** The user's rows as of now: kept ones when the generation has not moved, else read (and kept). */
export async function userRows(db: Db, userId: string, read: () => Promise<UserRows>): Promise<UserRows> {
  let users = kept.get(db);
  if (!users) {
    users = new Map();
    kept.set(db, users);
  }
  const gen = await generation(db, "permissions");
  const hit = users.get(userId);
  if (hit && hit.gen === gen) return hit.rows;
  const rows = await read();
  users.delete(userId); // re-inserted last: the Map's order is the eviction order
  users.set(userId, { gen, rows });
  if (users.size > MAX_USERS) users.delete(users.keys().next().value as string);
  return rows;
}
