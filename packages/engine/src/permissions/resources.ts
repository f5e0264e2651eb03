/**
 * /roles (the predefined roles, custom roles made, changed and removed, and their permits) and permissions: /permissions (the system's),
 * `<object>/{id}/permissions` on data centers, clusters, hosts, VMs, templates, disks, storage
 * domains and networks, a data center's quotas (`/datacenters/{id}/quotas/{quota}/permissions`),
 * and a user's or group's own. Adding checks the role, the user or group
 * and the object before anything is written; a duplicate is 409.
 */
import { randomUUID } from "node:crypto";
import type { SelectQueryBuilder } from "kysely";
import { z } from "zod";
import { type Call, bodyOf, ok, pathId, type Reply } from "../api/call.js";
import { ApiFault, conflict, notFound } from "../errors/fault.js";
import { href, links, ref } from "../api/href.js";
import { Bool, ListOf, Name, parseInput, Text, Uuid } from "../input/input.js";
import { collection, type Rep } from "../api/repr.js";
import { type Database, now, type Permission } from "../db/schema.js";
import { adminPermit, addRole as addCustomRole, allRoles, findRole, findRoleByName, mutableRole, permitOf, removeRole as removeCustomRole, updateRole as updateCustomRole } from "./custom-roles.js";
import { type ActionGroup, permitId, type Role, roleByName } from "./roles.js";
import { exists, type ObjectType, type ObjRef, SYSTEM } from "./tree.js";
import { mustQuota } from "../quotas/store.js";

/** Each object type's collection name and representation element. */
const COLL: Record<Exclude<ObjectType, "system">, [string, string]> = {
  data_center: ["datacenters", "data_center"],
  cluster: ["clusters", "cluster"],
  host: ["hosts", "host"],
  vm: ["vms", "vm"],
  template: ["templates", "template"],
  disk: ["disks", "disk"],
  storage_domain: ["storagedomains", "storage_domain"],
  network: ["networks", "network"],
  vnic_profile: ["vnicprofiles", "vnic_profile"],
  // a quota's href needs its data center: permissionView names it by id only
  quota: ["quotas", "quota"],
};

function roleView(r: Role): Rep {
  const base = href("roles", r.id);
  return { href: base, id: r.id, name: r.name, description: r.description, link: links(base, ["permits"]), administrative: r.administrative, mutable: r.mutable === true };
}

function permitView(r: Role, g: ActionGroup): Rep {
  const id = permitId(g);
  return { href: href("roles", r.id, "permits", id), id, name: g, administrative: adminPermit(g), role: ref("roles", r.id) };
}

function permissionView(p: Permission, base: string): Rep {
  const obj: Rep = {};
  if (p.object_type !== "system") {
    const [coll, el] = COLL[p.object_type as Exclude<ObjectType, "system">] ?? [];
    if (coll && el) obj[el] = p.object_type === "quota" ? { id: p.object_id } : ref(coll, p.object_id);
  }
  return {
    href: `${base}/${p.id}`,
    id: p.id,
    role: ref("roles", p.role_id),
    ...(p.user_id ? { user: ref("users", p.user_id) } : {}),
    ...(p.group_id ? { group: ref("groups", p.group_id) } : {}),
    ...obj,
  };
}

async function mustRole(c: Call): Promise<Role> {
  const id = pathId(c, "id", "Role");
  const r = await findRole(c.engine, id);
  if (!r) throw notFound("Role", id);
  return r;
}

export async function roles(c: Call): Promise<Reply> {
  return ok("roles", collection("role", (await allRoles(c.engine)).map(roleView)));
}

export async function role(c: Call): Promise<Reply> {
  return ok("role", roleView(await mustRole(c)));
}

const PermitRef = z.object({ id: z.string().max(16).optional(), name: z.string().max(64).optional() });
const NewRole = z.object({
  name: Name,
  description: Text(4000).optional(),
  administrative: Bool.optional(),
  mutable: Bool.optional(),
  permits: ListOf("permit", PermitRef),
});
const RoleUpdate = NewRole.partial();

export async function addRole(c: Call): Promise<Reply> {
  const b = parseInput(NewRole, bodyOf(c, ["role"]), "Role");
  const r = await addCustomRole(c.engine, { name: b.name, description: b.description, administrative: b.administrative, permits: b.permits.map(permitOf) });
  c.engine.log.info({ role: r.name, permits: r.permits, by: c.user?.name }, "role added");
  return ok("role", roleView(r), 201);
}

export async function updateRole(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "Role");
  await mutableRole(c.engine, id);
  const b = parseInput(RoleUpdate, bodyOf(c, ["role"]), "Role", "update");
  const r = await updateCustomRole(c.engine, id, { name: b.name, description: b.description, administrative: b.administrative, permits: b.permits?.map(permitOf) });
  return ok("role", roleView(r));
}

export async function removeRole(c: Call): Promise<Reply> {
  await removeCustomRole(c.engine, pathId(c, "id", "Role"));
  return { status: 200 };
}

export async function addPermit(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "Role");
  const r = await mutableRole(c.engine, id);
  const g = permitOf(parseInput(PermitRef, bodyOf(c, ["permit"]), "Permit"));
  const updated = await updateCustomRole(c.engine, id, { permits: [...r.permits, g] });
  return ok("permit", permitView(updated, g), 201);
}

export async function removePermit(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "Role");
  const r = await mutableRole(c.engine, id);
  const raw = c.params.permit ?? "";
  const g = r.permits.find((x) => permitId(x) === raw);
  if (!g) throw notFound("Permit", raw.slice(0, 80));
  if (g === "login") throw conflict("[PERMIT_REQUIRED] every role holds login");
  await updateCustomRole(c.engine, id, { permits: r.permits.filter((x) => x !== g) });
  return { status: 200 };
}

export async function permits(c: Call): Promise<Reply> {
  const r = await mustRole(c);
  return ok("permits", collection("permit", r.permits.map((g) => permitView(r, g))));
}

export async function permit(c: Call): Promise<Reply> {
  const r = await mustRole(c);
  const raw = c.params.permit ?? "";
  const g = r.permits.find((x) => permitId(x) === raw);
  if (!g) throw notFound("Permit", raw.slice(0, 80));
  return ok("permit", permitView(r, g));
}

type PermQuery = SelectQueryBuilder<Database, "permissions", Permission>;

/** The permissions a query selects, as a collection whose hrefs sit under the request's path. */
export async function permissionsOf(c: Call, where: (q: PermQuery) => PermQuery, base = href("permissions")): Promise<Reply> {
  const rows = await where(c.engine.db.selectFrom("permissions").selectAll()).orderBy("created_at").execute();
  return ok("permissions", collection("permission", rows.map((p) => permissionView(p, base))));
}

/** The object a request's path names (`/vms/{id}/permissions` → the VM; `/permissions` → the system). */
async function target(c: Call, type: ObjectType): Promise<{ obj: ObjRef; base: string }> {
  if (type === "system") return { obj: SYSTEM, base: href("permissions") };
  if (type === "quota") {
    const dc = pathId(c, "id", "Data Center");
    const q = await mustQuota(c.engine, dc, pathId(c, "quota", "Quota"));
    return { obj: { type, id: q.id }, base: href("datacenters", dc, "quotas", q.id, "permissions") };
  }
  const id = pathId(c, "id", type);
  const obj = { type, id };
  if (!(await exists(c.engine, obj))) throw notFound(type, id);
  const [collName] = COLL[type as Exclude<ObjectType, "system">];
  return { obj, base: href(collName, id, "permissions") };
}

const NewPermission = z.object({
  role: z.object({ id: Uuid.optional(), name: Name.optional() }),
  user: z.object({ id: Uuid }).optional(),
  group: z.object({ id: Uuid }).optional(),
});

export const list = (type: ObjectType) => async (c: Call): Promise<Reply> => {
  const { obj, base } = await target(c, type);
  return permissionsOf(c, (q) => q.where("object_type", "=", obj.type).where("object_id", "=", obj.id), base);
};

export const get = (type: ObjectType) => async (c: Call): Promise<Reply> => {
  const { obj, base } = await target(c, type);
  const pid = pathId(c, "perm", "Permission");
  const p = await c.engine.db.selectFrom("permissions").selectAll().where("id", "=", pid).where("object_type", "=", obj.type).where("object_id", "=", obj.id).executeTakeFirst();
  if (!p) throw notFound("Permission", pid);
  return ok("permission", permissionView(p, base));
};

export const add = (type: ObjectType) => async (c: Call): Promise<Reply> => {
  const { obj, base } = await target(c, type);
  const b = parseInput(NewPermission, bodyOf(c, ["permission"]), "Permission");
  const r = b.role.id ? await findRole(c.engine, b.role.id) : b.role.name ? await findRoleByName(c.engine, b.role.name) : undefined;
  if (!r) throw new ApiFault(400, "Operation Failed", `[ROLE_NOT_FOUND] no role ${(b.role.id ?? b.role.name ?? "(none given)").slice(0, 80)}; see /roles`);
  if ((b.user ? 1 : 0) + (b.group ? 1 : 0) !== 1) throw new ApiFault(400, "Incomplete parameters", "Permission [user.id or group.id] required for add (exactly one)");
  const db = c.engine.db;
  if (b.user && !(await db.selectFrom("users").select("id").where("id", "=", b.user.id).executeTakeFirst())) {
    throw new ApiFault(400, "Operation Failed", `[USER_NOT_FOUND] no user ${b.user.id}`);
  }
  if (b.group && !(await db.selectFrom("groups").select("id").where("id", "=", b.group.id).executeTakeFirst())) {
    throw new ApiFault(400, "Operation Failed", `[GROUP_NOT_FOUND] no group ${b.group.id}`);
  }
  let dup = db.selectFrom("permissions").select("id").where("role_id", "=", r.id).where("object_type", "=", obj.type).where("object_id", "=", obj.id);
  dup = b.user ? dup.where("user_id", "=", b.user.id) : dup.where("group_id", "=", b.group?.id ?? "");
  if (await dup.executeTakeFirst()) throw conflict(`[PERMISSION_EXISTS] the ${b.user ? "user" : "group"} already has ${r.name} on this object`);
  const p: Permission = { id: randomUUID(), role_id: r.id, user_id: b.user?.id ?? null, group_id: b.group?.id ?? null, object_type: obj.type, object_id: obj.id, created_at: now() };
  await db.insertInto("permissions").values(p).execute();
  c.engine.log.info({ role: r.name, object: obj, user: p.user_id, group: p.group_id, by: c.user?.name }, "permission added");
  return ok("permission", permissionView(p, base), 201);
};

export const remove = (type: ObjectType) => async (c: Call): Promise<Reply> => {
  const { obj } = await target(c, type);
  const pid = pathId(c, "perm", "Permission");
  const p = await c.engine.db.selectFrom("permissions").selectAll().where("id", "=", pid).where("object_type", "=", obj.type).where("object_id", "=", obj.id).executeTakeFirst();
  if (!p) throw notFound("Permission", pid);
  if (p.user_id === c.user?.id && p.role_id === roleByName("SuperUser")?.id && obj.type === "system") {
    throw conflict("[PERMISSION_PROTECTED] a user cannot remove their own system-wide SuperUser permission");
  }
  await c.engine.db.deleteFrom("permissions").where("id", "=", pid).execute();
  return { status: 200 };
};

