/**
 * The internal user database (domain `internal`): users with scrypt-hashed passwords, groups and
 * membership. Shared by the API (/users, /groups) and the `vela user` command. Errors carry a
 * stable code; nothing here logs or returns a password or its hash.
 */
import { randomUUID } from "node:crypto";
import type { Db } from "../db/index.js";
import { ADMIN_USER_ID } from "../db/ids.js";
import { type Group, now, type User } from "../db/schema.js";
import { hashPassword, verifyPassword, weakPassword } from "./password.js";

export const DOMAIN = "internal";
/** oVirt's internal domain id (the base64 of "internal-authz"). */
export const DOMAIN_ID = "aW50ZXJuYWwtYXV0aHo";

export type UserErrorCode = "USER_NAME_INVALID" | "USER_EXISTS" | "USER_NOT_FOUND" | "PASSWORD_WEAK" | "USER_PROTECTED" | "GROUP_EXISTS" | "GROUP_NOT_FOUND";

export class UserError extends Error {
  constructor(
    readonly code: UserErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** The right password from a user who holds no permission at all (oVirt: no LOGIN permit anywhere). */
export class NotAuthorizedToLogIn extends Error {
  readonly code = "USER_NOT_AUTHORIZED";
  constructor(readonly user: string) {
    super("the user is not authorized to log in: neither they nor a group of theirs holds a permission on any object");
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9._-]{0,63}$/;

/** `alice`, `alice@internal` → `alice`; any other domain or shape → undefined. */
export function principalOf(login: string): string | undefined {
  const at = login.lastIndexOf("@");
  const name = at < 0 ? login : login.slice(0, at);
  if (at >= 0 && login.slice(at + 1) !== DOMAIN) return undefined;
  return NAME.test(name) ? name : undefined;
}

function checkName(name: string, what: "user" | "group"): string {
  const p = principalOf(name);
  if (!p) throw new UserError("USER_NAME_INVALID", `invalid ${what} name: letters, digits, '.', '_' and '-', at most 64, starting with a letter or '_' (domain ${DOMAIN} only)`);
  return p;
}

export async function listUsers(db: Db): Promise<User[]> {
  return db.selectFrom("users").selectAll().orderBy("name").execute();
}

export async function findUser(db: Db, login: string): Promise<User | undefined> {
  const p = principalOf(login);
  return p ? db.selectFrom("users").selectAll().where("name", "=", p).where("domain", "=", DOMAIN).executeTakeFirst() : undefined;
}

export async function userById(db: Db, id: string): Promise<User | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function addUser(db: Db, name: string, password: string, extra: { first_name?: string; last_name?: string; email?: string } = {}): Promise<User> {
  const p = checkName(name, "user");
  if (await findUser(db, p)) throw new UserError("USER_EXISTS", `user ${p}@${DOMAIN} already exists`);
  const weak = weakPassword(password, p);
  if (weak) throw new UserError("PASSWORD_WEAK", weak);
  const row: User = { id: randomUUID(), name: p, domain: DOMAIN, external_id: null, password_hash: await hashPassword(password), first_name: extra.first_name ?? "", last_name: extra.last_name ?? "", email: extra.email ?? "", created_at: now() };
  try {
    await db.insertInto("users").values(row).execute();
  } catch (err) {
    // a concurrent add of the same name lost the race on the unique index
    if (await findUser(db, p)) throw new UserError("USER_EXISTS", `user ${p}@${DOMAIN} already exists`);
    throw err;
  }
  return row;
}

export async function setPassword(db: Db, login: string, password: string): Promise<void> {
  const u = await findUser(db, login);
  if (!u) throw new UserError("USER_NOT_FOUND", `no user ${login.slice(0, 80)}`);
  if (u.id === ADMIN_USER_ID) throw new UserError("USER_PROTECTED", "admin@internal's password is the engine's configuration (VELA_ADMIN_PASSWORD or admin-password)");
  const weak = weakPassword(password, u.name);
  if (weak) throw new UserError("PASSWORD_WEAK", weak);
  await db.updateTable("users").set({ password_hash: await hashPassword(password) }).where("id", "=", u.id).execute();
}

/** Removes the user with their permissions and memberships. */
export async function removeUser(db: Db, u: User): Promise<void> {
  if (u.id === ADMIN_USER_ID) throw new UserError("USER_PROTECTED", "admin@internal cannot be removed");
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom("permissions").where("user_id", "=", u.id).execute();
    await tx.deleteFrom("group_members").where("user_id", "=", u.id).execute();
    await tx.deleteFrom("users").where("id", "=", u.id).execute();
  });
}

/** True when the password is the user's (admin@internal is checked by the caller against configuration). */
export async function passwordMatches(u: User, password: string): Promise<boolean> {
  return u.password_hash !== null && password.length <= 1024 && verifyPassword(password, u.password_hash);
}

export async function listGroups(db: Db): Promise<Group[]> {
  return db.selectFrom("groups").selectAll().orderBy("name").execute();
}

export async function groupById(db: Db, id: string): Promise<Group | undefined> {
  return db.selectFrom("groups").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function findGroup(db: Db, name: string): Promise<Group | undefined> {
  const p = principalOf(name);
  return p ? db.selectFrom("groups").selectAll().where("name", "=", p).where("domain", "=", DOMAIN).executeTakeFirst() : undefined;
}

export async function addGroup(db: Db, name: string): Promise<Group> {
  const p = checkName(name, "group");
  if (await findGroup(db, p)) throw new UserError("GROUP_EXISTS", `group ${p}@${DOMAIN} already exists`);
  const row: Group = { id: randomUUID(), name: p, domain: DOMAIN, external_id: null, created_at: now() };
  await db.insertInto("groups").values(row).execute();
  return row;
}

export async function removeGroup(db: Db, g: Group): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom("permissions").where("group_id", "=", g.id).execute();
    await tx.deleteFrom("group_members").where("group_id", "=", g.id).execute();
    await tx.deleteFrom("groups").where("id", "=", g.id).execute();
  });
}

export async function addMember(db: Db, group: string, user: string): Promise<void> {
  const g = await findGroup(db, group);
  if (!g) throw new UserError("GROUP_NOT_FOUND", `no group ${group.slice(0, 80)}`);
  const u = await findUser(db, user);
  if (!u) throw new UserError("USER_NOT_FOUND", `no user ${user.slice(0, 80)}`);
  const has = await db.selectFrom("group_members").select("user_id").where("group_id", "=", g.id).where("user_id", "=", u.id).executeTakeFirst();
  if (!has) await db.insertInto("group_members").values({ group_id: g.id, user_id: u.id }).execute();
}

export async function groupsOf(db: Db, userId: string): Promise<Group[]> {
  return db.selectFrom("groups").innerJoin("group_members", "group_members.group_id", "groups.id").selectAll("groups").where("group_members.user_id", "=", userId).orderBy("name").execute();
}
