/**
 * The permission check every API request passes before its handler runs (so a refused request
 * changes nothing), and the user view's filtering of collections after it. The admin view
 * (no `Filter: true`) needs an administrative role; the user view shows only what the user
 * sees, hiding the rest as absent (404), as oVirt does.
 */
import type { Call, Reply } from "../api/call.js";
import { ApiFault } from "../errors/fault.js";
import type { Rep, RepValue } from "../api/repr.js";
import type { Engine } from "../engine.js";
import type { Access } from "./access.js";
import { randomUUID } from "node:crypto";
import { ADMIN_USER_ID } from "../db/ids.js";
import { now } from "../db/schema.js";
import { needOf, type Owner } from "./needs.js";
import { roleByName } from "./roles.js";
import { type ObjectType, type ObjRef, SYSTEM } from "./tree.js";

export const PERMISSION_DENIED = "PERMISSION_DENIED";

function forbidden(detail: string): ApiFault {
  return new ApiFault(403, "Operation Failed", `[User is not authorized to perform this action.] ${detail}`);
}

function hidden(type: ObjectType, id: string): ApiFault {
  return new ApiFault(404, "Operation Failed", `Entity not found: ${type}: ${id.slice(0, 80)}`);
}

/** The user view is asked for with `Filter: true` (header) or `filter=true` (query). */
export function wantsFilter(header: string | string[] | undefined, query: Record<string, string>): boolean {
  const h = Array.isArray(header) ? header[0] : header;
  return (h ?? query.filter ?? "").trim().toLowerCase() === "true";
}

/** What to do with the handler's reply: filter a collection's items by what the user sees, or make the creator the new object's owner. */
export type After = { item: string; type: ObjectType } | { owner: Owner } | { removed: ObjRef } | { own: "permission" } | { events: "list" | "one" } | undefined;

/** Throws 403/404 when the user may not make this request; says how to filter the reply. */
export async function authorize(e: Engine, access: Access, method: string, path: string, c: Call, filter: boolean): Promise<After> {
  const need = needOf(method, path);
  const admin = await access.isAdmin();
  if (!need) {
    // an undeclared route: only a system-wide SuperUser gets through
    if (await access.can("manipulate_roles", SYSTEM)) return undefined;
    throw forbidden(`${method} ${path} declares no permission`);
  }
  if ("open" in need) return undefined;
  if ("systemAdmin" in need) {
    if (!(await access.administersSystem())) throw forbidden("Only holders of an administrative role on the whole system (SuperUser, for one) may read this resource.");
    return undefined;
  }
  if (!filter && !admin) throw forbidden("The administrator view needs an administrative role; send the header 'Filter: true' for the user view.");
  if ("admin" in need) {
    if (!admin) throw forbidden("Only administrators may use this resource.");
    return undefined;
  }
  if ("list" in need) return filter ? { item: need.item, type: need.list } : undefined;
  if ("events" in need) return filter ? { events: need.events } : undefined;
  if ("view" in need) {
    const id = c.params[need.param] ?? "";
    if (filter && !(await access.sees({ type: need.view, id }))) throw hidden(need.view, id);
    if (!filter || !need.items) return undefined;
    // the user view of an object's permissions shows the user's own only
    return need.items.item === "permission" ? { own: "permission" } : need.items;
  }
  const target = await need.on(e, c);
  if (await access.can(need.act, target)) return need.owner ? { owner: need.owner } : need.removes ? { removed: target } : undefined;
  if (filter && target.type !== "system" && !(await access.sees(target))) throw hidden(target.type, target.id);
  throw forbidden(`The action needs the permit ${need.act} on ${target.type} ${target.type === "system" ? "" : target.id}`.trim());
}

/** Keeps only the items of a collection reply the user sees; gives the creator of a new object its owner's role. */
export async function afterReply(access: Access, reply: Reply, after: After): Promise<Reply> {
  if (!after) return reply;
  if ("owner" in after) {
    await grantOwner(access, reply, after.owner);
    return reply;
  }
  if ("removed" in after) {
    // the object is gone (or going): nobody keeps a permission on it
    if (reply.status < 300) await access.engine.db.deleteFrom("permissions").where("object_type", "=", after.removed.type).where("object_id", "=", after.removed.id).execute();
    return reply;
  }
  if (!reply.rep) return reply;
  if ("own" in after) return ownPermissions(access, reply);
  if ("events" in after) return visibleEvents(access, reply, after.events);
  const items = reply.rep[after.item];
  if (!Array.isArray(items)) return reply;
  // one batched check for the whole collection (per tree level), not a tree walk per item
  const ids = items.map((it) => (it as Rep | null)?.id);
  const seen = await access.seesMany(ids.filter((id): id is string => typeof id === "string").map((id) => ({ type: after.type, id })));
  let i = 0;
  const kept: RepValue[] = items.filter((_, n) => typeof ids[n] === "string" && seen[i++] === true);
  return { ...reply, rep: { ...reply.rep, [after.item]: kept } };
}

/** The creator of an object becomes its owner (admin@internal, who may do everything, is not recorded). */
async function grantOwner(access: Access, reply: Reply, owner: Owner): Promise<void> {
  const id = reply.rep?.id;
  const role = roleByName(owner.role);
  if (reply.status >= 300 || typeof id !== "string" || !role || access.user.id === ADMIN_USER_ID) return;
  await access.engine.db
    .insertInto("permissions")
    .values({ id: randomUUID(), role_id: role.id, user_id: access.user.id, group_id: null, object_type: owner.type, object_id: id, created_at: now() })
    .execute();
}

/** An event's object, the most specific it names (a VM's event names its cluster too). */
const EVENT_REFS: [string, ObjectType][] = [
  ["vm", "vm"],
  ["host", "host"],
  ["storage_domain", "storage_domain"],
  ["cluster", "cluster"],
  ["data_center", "data_center"],
];

function eventObject(ev: Rep): ObjRef {
  for (const [member, type] of EVENT_REFS) {
    const id = (ev[member] as Rep | undefined)?.id;
    if (typeof id === "string") return { type, id };
  }
  return SYSTEM; // an event of the whole system: for those with a permission on the system
}

/** The user view of the audit log: the events of objects the user sees (one batched check). */
async function visibleEvents(access: Access, reply: Reply, kind: "list" | "one"): Promise<Reply> {
  const rep = reply.rep;
  if (!rep) return reply;
  const items = kind === "one" ? [rep] : Array.isArray(rep.event) ? (rep.event as Rep[]) : [];
  const objs = items.map(eventObject);
  // the system "contains" everything, so seesMany would show its events to anyone: only holders of a permission on it see them
  const system = await access.holdsSystem();
  const seen = (await access.seesMany(objs)).map((v, i) => (objs[i]?.type === "system" ? system : v));
  if (kind === "one") {
    if (!seen[0]) throw new ApiFault(404, "Operation Failed", `Entity not found: event: ${String(rep.id).slice(0, 20)}`);
    return reply;
  }
  return { ...reply, rep: { ...rep, event: items.filter((_, i) => seen[i]) } };
}

/** Keeps the permissions given to the user or to a group of theirs. */
async function ownPermissions(access: Access, reply: Reply): Promise<Reply> {
  const items = reply.rep?.permission;
  if (!Array.isArray(items)) return reply;
  const mine = new Set([access.user.id, ...(await access.groupIds())]);
  const kept = items.filter((p) => {
    const r = p as { user?: { id?: string }; group?: { id?: string } };
    return mine.has(r.user?.id ?? "") || mine.has(r.group?.id ?? "");
  });
  return { ...reply, rep: { ...reply.rep, permission: kept } };
}
