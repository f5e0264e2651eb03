/**
 * Custom roles (issue 12): administrators make their own roles from permits, as in oVirt
 * (`POST /roles` with `<permits>`, `PUT`, `DELETE`, `/roles/{id}/permits` add and remove); the
 * predefined roles (roles.ts) are read-only. A custom role lives in the `roles` table and is
 * read where a permission names it (access.ts, through kept.ts: a change bumps the permission
 * generation, so it counts from the next request on). Rules as oVirt's: every role holds `login`; a user (non-administrative) role
 * may hold no administrative permit; names are unique among all roles; a role still given in a
 * permission cannot be removed.
 */
import { randomUUID } from "node:crypto";
import type { Engine } from "../engine.js";
import { ApiFault, conflict, notFound } from "../errors/fault.js";
import { now } from "../db/schema.js";
import { ACTION_GROUPS, type ActionGroup, permitId, type Role, ROLES, roleById, roleByName } from "./roles.js";

/** A permit only administrative roles may hold: no predefined user role holds it. */
export function adminPermit(g: ActionGroup): boolean {
  return !ROLES.some((x) => !x.administrative && x.permits.includes(g));
}

/** A custom role from its stored row. */
export function roleFromRow(r: { id: string; name: string; description: string; administrative: number; permits: string }): Role {
  const names = JSON.parse(r.permits) as string[];
  const permits = names.filter((n): n is ActionGroup => (ACTION_GROUPS as readonly string[]).includes(n));
  return { id: r.id, name: r.name, description: r.description, administrative: r.administrative !== 0, permits, mutable: true };
}

/** Any role, predefined or custom, by id. */
export async function findRole(e: Engine, id: string): Promise<Role | undefined> {
  const pre = roleById(id);
  if (pre) return pre;
  const r = await e.db.selectFrom("roles").selectAll().where("id", "=", id).executeTakeFirst();
  return r ? roleFromRow(r) : undefined;
}

export async function findRoleByName(e: Engine, name: string): Promise<Role | undefined> {
  const pre = roleByName(name);
  if (pre) return pre;
  const r = await e.db.selectFrom("roles").selectAll().where("name", "=", name).executeTakeFirst();
  return r ? roleFromRow(r) : undefined;
}

export async function allRoles(e: Engine): Promise<Role[]> {
  const rows = await e.db.selectFrom("roles").selectAll().orderBy("name").execute();
  return [...ROLES, ...rows.map(roleFromRow)];
}

/** A permit named by name or by id (its number), as clients send `<permit id="4"/>` or `<permit><name>…`. */
export function permitOf(p: { id?: string; name?: string }): ActionGroup {
  const byName = p.name === undefined ? undefined : ACTION_GROUPS.find((g) => g === p.name?.toLowerCase());
  const byId = p.id === undefined ? undefined : ACTION_GROUPS.find((g) => permitId(g) === p.id);
  const g = byName ?? byId;
  if (!g || (byName && byId && byName !== byId)) {
    throw new ApiFault(400, "Operation Failed", `[PERMIT_NOT_FOUND] no permit ${String(p.name ?? p.id ?? "(none given)").slice(0, 60)}; see /roles/{id}/permits of SuperUser for all`);
  }
  return g;
}

/** The permits a role will hold: login always, no administrative permit in a user role. */
function checked(administrative: boolean, permits: ActionGroup[]): ActionGroup[] {
  const all = [...new Set<ActionGroup>(["login", ...permits])];
  const bad = administrative ? [] : all.filter(adminPermit);
  if (bad.length) throw new ApiFault(400, "Operation Failed", `[ROLE_PERMIT_ADMINISTRATIVE] a user role (administrative=false) cannot hold the administrative permits ${bad.join(", ")}`);
  return all;
}

async function nameFree(e: Engine, name: string, except?: string): Promise<void> {
  const other = await findRoleByName(e, name);
  if (other && other.id !== except) throw conflict(`[ROLE_NAME_IN_USE] a role named ${name} exists`);
}

/** A role that may be changed: custom; a predefined one is read-only (409), an unknown one 404. */
export async function mutableRole(e: Engine, id: string): Promise<Role> {
  if (roleById(id)) throw conflict("[ROLE_READ_ONLY] predefined roles cannot be changed or removed");
  const r = await findRole(e, id);
  if (!r) throw notFound("Role", id);
  return r;
}

export async function addRole(e: Engine, v: { name: string; description?: string; administrative?: boolean; permits: ActionGroup[] }): Promise<Role> {
  const administrative = v.administrative ?? false;
  const permits = checked(administrative, v.permits);
  await nameFree(e, v.name);
  const row = { id: randomUUID(), name: v.name, description: v.description ?? "", administrative: administrative ? 1 : 0, permits: JSON.stringify(permits), created_at: now() };
  await e.db.insertInto("roles").values(row).execute();
  return roleFromRow(row);
}

/** Changes a custom role's name, description, type or permits (what is given). */
export async function updateRole(e: Engine, id: string, v: { name?: string; description?: string; administrative?: boolean; permits?: ActionGroup[] }): Promise<Role> {
  const r = await mutableRole(e, id);
  const administrative = v.administrative ?? r.administrative;
  const permits = checked(administrative, v.permits ?? [...r.permits]);
  if (v.name !== undefined) await nameFree(e, v.name, id);
  await e.db
    .updateTable("roles")
    .set({ name: v.name ?? r.name, description: v.description ?? r.description, administrative: administrative ? 1 : 0, permits: JSON.stringify(permits) })
    .where("id", "=", id)
    .execute();
  return (await findRole(e, id)) as Role;
}

export async function removeRole(e: Engine, id: string): Promise<void> {
  await mutableRole(e, id);
  const used = await e.db.selectFrom("permissions").select("id").where("role_id", "=", id).executeTakeFirst();
  if (used) throw conflict("[ROLE_IN_USE] the role is given in permissions; remove them first");
  await e.db.deleteFrom("roles").where("id", "=", id).execute();
}
