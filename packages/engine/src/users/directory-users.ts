/**
 * The engine's rows for directory users and groups: added by an administrator (POST /users,
 * POST /groups with the directory's domain) and, at each sign-in, the user's memberships in the
 * added directory groups made to match the directory's. As in oVirt, a directory user may sign
 * in when they were added or a group of theirs was (then their row is made at first sign-in);
 * anyone else is refused, whatever their password. A row is made only for a sign-in that can
 * succeed: when none of their added groups holds a permission, they are refused (no permission)
 * and nothing is written.
 */
import { randomUUID } from "node:crypto";
import type { Db } from "../db/index.js";
import { type Group, now, type User } from "../db/schema.js";
import type { Principal } from "../permissions/access.js";
import type { DirEntry } from "./directory.js";
import { NotAuthorizedToLogIn, UserError } from "./store.js";

/** The name a directory user's or group's row carries: name@profile. */
export const qualified = (name: string, domain: string): string => `${name}@${domain}`;

export async function directoryUser(db: Db, domain: string, externalId: string): Promise<User | undefined> {
  return db.selectFrom("users").selectAll().where("domain", "=", domain).where("external_id", "=", externalId).executeTakeFirst();
}

export async function addDirectoryUser(db: Db, domain: string, e: DirEntry): Promise<User> {
  const name = qualified(e.name, domain);
  const taken = async () => (await directoryUser(db, domain, e.id)) ?? (await db.selectFrom("users").select("id").where("name", "=", name).executeTakeFirst());
  if (await taken()) throw new UserError("USER_EXISTS", `user ${name} already exists`);
  const row: User = { id: randomUUID(), name, domain, external_id: e.id, password_hash: null, first_name: e.firstName ?? "", last_name: e.lastName ?? "", email: e.email ?? "", created_at: now() };
  try {
    await db.insertInto("users").values(row).execute();
  } catch (err) {
    if (await taken()) throw new UserError("USER_EXISTS", `user ${name} already exists`);
    throw err;
  }
  return row;
}

export async function addDirectoryGroup(db: Db, domain: string, e: DirEntry): Promise<Group> {
  const name = qualified(e.name, domain);
  const taken = async () => db.selectFrom("groups").select("id").where((w) => w.or([w("name", "=", name), w.and([w("domain", "=", domain), w("external_id", "=", e.id)])])).executeTakeFirst();
  if (await taken()) throw new UserError("GROUP_EXISTS", `group ${name} already exists`);
  const row: Group = { id: randomUUID(), name, domain, external_id: e.id, created_at: now() };
  try {
    await db.insertInto("groups").values(row).execute();
  } catch (err) {
    if (await taken()) throw new UserError("GROUP_EXISTS", `group ${name} already exists`);
    throw err;
  }
  return row;
}

/**
 * The principal a directory sign-in gives, or undefined when neither the user nor any of their
 * groups was added; throws NotAuthorizedToLogIn for a first sign-in no added group gives a permission. Their memberships in the domain's added groups become what the directory
 * says (written only when they differ: each write invalidates every kept permission set).
 */
export async function signIn(db: Db, domain: string, user: DirEntry, groups: DirEntry[]): Promise<Principal | undefined> {
  const ids = groups.map((g) => g.id);
  const added = ids.length ? await db.selectFrom("groups").select("id").where("domain", "=", domain).where("external_id", "in", ids).execute() : [];
  let row = await directoryUser(db, domain, user.id);
  if (!row && !added.length) return undefined;
  if (!row) {
    const held = await db.selectFrom("permissions").select("id").where("group_id", "in", added.map((g) => g.id)).limit(1).executeTakeFirst();
    if (!held) throw new NotAuthorizedToLogIn(qualified(user.name, domain));
    row = await addDirectoryUser(db, domain, user).catch(async (err: unknown) => {
      // a concurrent sign-in of the same user made the row first
      const again = await directoryUser(db, domain, user.id);
      if (again) return again;
      throw err;
    });
  }
  const userId = row.id;
  const want = new Set(added.map((g) => g.id));
  const have = new Set(
    (await db.selectFrom("group_members").innerJoin("groups", "groups.id", "group_members.group_id").select("group_members.group_id").where("group_members.user_id", "=", userId).where("groups.domain", "=", domain).execute()).map(
      (r) => r.group_id,
    ),
  );
  const gone = [...have].filter((g) => !want.has(g));
  const fresh = [...want].filter((g) => !have.has(g));
  if (gone.length || fresh.length) {
    await db.transaction().execute(async (tx) => {
      if (gone.length) await tx.deleteFrom("group_members").where("user_id", "=", userId).where("group_id", "in", gone).execute();
      if (fresh.length) await tx.insertInto("group_members").values(fresh.map((group_id) => ({ group_id, user_id: userId }))).execute();
    });
  }
  return { id: row.id, name: row.name };
}
