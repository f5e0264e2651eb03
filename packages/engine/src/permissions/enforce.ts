/**
 * The permission check every API request passes before its handler runs (so a refused request
 * changes nothing), and the user view's filtering of collections after it. The admin view
 * (no `Filter: true`) needs an administrative role; the user view shows only what the user
 * sees, hiding the rest as absent (404), as oVirt does.
 */
import type { Call, Reply } from "../api/call.js";
import { ApiFault } from "../api/fault.js";
import type { Rep, RepValue } from "../api/repr.js";
import type { Engine } from "../engine.js";
import type { Access } from "./access.js";
import { needOf } from "./needs.js";
import { type ObjectType, SYSTEM } from "./tree.js";

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

/** What to do with the handler's reply: filter a collection's items by what the user sees. */
export type After = { item: string; type: ObjectType } | undefined;

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
  if (!filter && !admin) throw forbidden("The administrator view needs an administrative role; send the header 'Filter: true' for the user view.");
  if ("admin" in need) {
    if (!admin) throw forbidden("Only administrators may use this resource.");
    return undefined;
  }
  if ("list" in need) return filter ? { item: need.item, type: need.list } : undefined;
  if ("view" in need) {
    const id = c.params[need.param] ?? "";
    if (filter && !(await access.sees({ type: need.view, id }))) throw hidden(need.view, id);
    return undefined;
  }
  const target = await need.on(e, c);
  if (await access.can(need.act, target)) return undefined;
  if (filter && target.type !== "system" && !(await access.sees(target))) throw hidden(target.type, target.id);
  throw forbidden(`The action needs the permit ${need.act} on ${target.type} ${target.type === "system" ? "" : target.id}`.trim());
}

/** Keeps only the items of a collection reply the user sees. */
export async function filterReply(access: Access, reply: Reply, after: After): Promise<Reply> {
  if (!after || !reply.rep) return reply;
  const items = reply.rep[after.item];
  if (!Array.isArray(items)) return reply;
  const kept: RepValue[] = [];
  for (const it of items) {
    const id = (it as Rep | null)?.id;
    if (typeof id === "string" && (await access.sees({ type: after.type, id }))) kept.push(it);
  }
  return { ...reply, rep: { ...reply.rep, [after.item]: kept } };
}
