/**
 * The object tree permissions are inherited down, as in oVirt: system → data center → cluster →
 * host / VM / template; data center → storage domain → disk, network → vNIC profile, quota; a disk
 * also inherits from the VMs it is attached to. `ancestors` walks it upwards from one object;
 * `parentsOf` answers for many objects at once (one query per type and level, not per object),
 * which is what a permission check over a long list uses (access.ts).
 */
import type { Engine } from "../engine.js";
import { SYSTEM_ID } from "../db/ids.js";

export const OBJECT_TYPES = ["system", "data_center", "cluster", "host", "vm", "template", "disk", "storage_domain", "network", "vnic_profile", "quota"] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

export interface ObjRef {
  type: ObjectType;
  id: string;
}

export const SYSTEM: ObjRef = { type: "system", id: SYSTEM_ID };

/** Each type's table (to check an object exists). */
export const TABLE: Record<Exclude<ObjectType, "system">, "data_centers" | "clusters" | "hosts" | "vms" | "templates" | "disks" | "storage_domains" | "networks" | "vnic_profiles" | "quotas"> = {
  data_center: "data_centers",
  cluster: "clusters",
  host: "hosts",
  vm: "vms",
  template: "templates",
  disk: "disks",
  storage_domain: "storage_domains",
  network: "networks",
  vnic_profile: "vnic_profiles",
  quota: "quotas",
};

export const key = (o: ObjRef) => `${o.type}:${o.id}`;

/** The types an object's direct parents may have (the tree's shape, as `parents` reads it). */
const PARENT_TYPES: Record<ObjectType, readonly ObjectType[]> = {
  system: [],
  data_center: ["system"],
  cluster: ["data_center", "system"],
  host: ["cluster", "system"],
  vm: ["cluster", "system"],
  template: ["cluster", "system"],
  network: ["data_center", "system"],
  vnic_profile: ["network", "system"],
  storage_domain: ["data_center", "system"],
  disk: ["vm", "storage_domain", "system"],
  quota: ["data_center", "system"],
};

function closure(t: ObjectType, next: (x: ObjectType) => readonly ObjectType[]): Set<ObjectType> {
  const out = new Set<ObjectType>();
  const stack = [...next(t)];
  while (stack.length) {
    const x = stack.pop() as ObjectType;
    if (out.has(x)) continue;
    out.add(x);
    stack.push(...next(x));
  }
  return out;
}

/**
 * The types that may be above or below an object of type `t` in the tree: a permission on
 * anything else can neither cover it nor make it a container the user sees. (A user holding only
 * VMs sees a list of VMs by the VMs themselves: no tree to read.)
 */
export function relatedTypes(t: ObjectType): ReadonlySet<ObjectType> {
  const up = closure(t, (x) => PARENT_TYPES[x]);
  const down = closure(t, (x) => OBJECT_TYPES.filter((c) => PARENT_TYPES[c].includes(x)));
  return new Set([...up, ...down]);
}

/** Does the object exist? (system always does.) */
export async function exists(e: Engine, o: ObjRef): Promise<boolean> {
  if (o.type === "system") return true;
  const row = await e.db.selectFrom(TABLE[o.type]).select("id").where("id", "=", o.id).executeTakeFirst();
  return row !== undefined;
}

/** The object's direct parents (none for system; system for a top-level object). */
async function parents(e: Engine, o: ObjRef): Promise<ObjRef[]> {
  const db = e.db;
  const one = (type: ObjectType, id: string | null | undefined): ObjRef[] => (id ? [{ type, id }] : [SYSTEM]);
  switch (o.type) {
    case "system":
      return [];
    case "data_center":
      return [SYSTEM];
    case "cluster":
      return one("data_center", (await db.selectFrom("clusters").select("data_center_id").where("id", "=", o.id).executeTakeFirst())?.data_center_id);
    case "host":
      return one("cluster", (await db.selectFrom("hosts").select("cluster_id").where("id", "=", o.id).executeTakeFirst())?.cluster_id);
    case "vm":
      return one("cluster", (await db.selectFrom("vms").select("cluster_id").where("id", "=", o.id).executeTakeFirst())?.cluster_id);
    case "template":
      return one("cluster", (await db.selectFrom("templates").select("cluster_id").where("id", "=", o.id).executeTakeFirst())?.cluster_id);
    case "network":
      return one("data_center", (await db.selectFrom("networks").select("data_center_id").where("id", "=", o.id).executeTakeFirst())?.data_center_id);
    case "vnic_profile":
      return one("network", (await db.selectFrom("vnic_profiles").select("network_id").where("id", "=", o.id).executeTakeFirst())?.network_id);
    case "quota":
      return one("data_center", (await db.selectFrom("quotas").select("data_center_id").where("id", "=", o.id).executeTakeFirst())?.data_center_id);
    case "storage_domain": {
      const dcs = await db.selectFrom("storage_domain_attachments").select("data_center_id").where("storage_domain_id", "=", o.id).execute();
      return dcs.length ? dcs.map((d) => ({ type: "data_center" as const, id: d.data_center_id })) : [SYSTEM];
    }
    case "disk": {
      const vms = await db.selectFrom("disk_attachments").select("vm_id").where("disk_id", "=", o.id).execute();
      const sd = (await db.selectFrom("disks").select("storage_domain_id").where("id", "=", o.id).executeTakeFirst())?.storage_domain_id;
      return [...vms.map((v) => ({ type: "vm" as const, id: v.vm_id })), ...one("storage_domain", sd)];
    }
  }
}

/** The object itself and everything above it, each once (system last or near it). */
export async function ancestors(e: Engine, o: ObjRef): Promise<ObjRef[]> {
  const seen = new Map<string, ObjRef>();
  let frontier = [o];
  while (frontier.length) {
    const next: ObjRef[] = [];
    for (const x of frontier) {
      if (seen.has(key(x))) continue;
      seen.set(key(x), x);
      next.push(...(await parents(e, x)));
    }
    frontier = next;
  }
  return [...seen.values()];
}

/** Ids per `IN (…)`: SQLite and PostgreSQL both bound the parameters of one statement. */
const CHUNK = 1000;

async function chunked<T>(ids: string[], q: (part: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) out.push(...(await q(ids.slice(i, i + CHUNK))));
  return out;
}

/** The direct parents of many objects (as `parents` gives them one by one), keyed by `key(o)`. */
export async function parentsOf(e: Engine, objs: ObjRef[]): Promise<Map<string, ObjRef[]>> {
  const db = e.db;
  const out = new Map<string, ObjRef[]>();
  const byType = new Map<ObjectType, string[]>();
  for (const o of objs) {
    if (out.has(key(o))) continue;
    out.set(key(o), o.type === "system" ? [] : [SYSTEM]); // a top-level or unknown object hangs under system
    if (o.type !== "system" && o.type !== "data_center") byType.set(o.type, [...(byType.get(o.type) ?? []), o.id]);
  }
  const set = (type: ObjectType, id: string, parents: ObjRef[]) => out.set(key({ type, id }), parents.length ? parents : [SYSTEM]);
  const up = (type: ObjectType, parentType: ObjectType, rows: { id: string; p: string | null }[]) => {
    for (const r of rows) set(type, r.id, r.p ? [{ type: parentType, id: r.p }] : []);
  };
  for (const [type, ids] of byType) {
    switch (type) {
      case "cluster":
        up(type, "data_center", await chunked(ids, (x) => db.selectFrom("clusters").select(["id", "data_center_id as p"]).where("id", "in", x).execute()));
        break;
      case "host":
        up(type, "cluster", await chunked(ids, (x) => db.selectFrom("hosts").select(["id", "cluster_id as p"]).where("id", "in", x).execute()));
        break;
      case "vm":
        up(type, "cluster", await chunked(ids, (x) => db.selectFrom("vms").select(["id", "cluster_id as p"]).where("id", "in", x).execute()));
        break;
      case "template":
        up(type, "cluster", await chunked(ids, (x) => db.selectFrom("templates").select(["id", "cluster_id as p"]).where("id", "in", x).execute()));
        break;
      case "network":
        up(type, "data_center", await chunked(ids, (x) => db.selectFrom("networks").select(["id", "data_center_id as p"]).where("id", "in", x).execute()));
        break;
      case "vnic_profile":
        up(type, "network", await chunked(ids, (x) => db.selectFrom("vnic_profiles").select(["id", "network_id as p"]).where("id", "in", x).execute()));
        break;
      case "quota":
        up(type, "data_center", await chunked(ids, (x) => db.selectFrom("quotas").select(["id", "data_center_id as p"]).where("id", "in", x).execute()));
        break;
      case "storage_domain": {
        const rows = await chunked(ids, (x) => db.selectFrom("storage_domain_attachments").select(["storage_domain_id", "data_center_id"]).where("storage_domain_id", "in", x).execute());
        const dcs = new Map<string, ObjRef[]>();
        for (const r of rows) dcs.set(r.storage_domain_id, [...(dcs.get(r.storage_domain_id) ?? []), { type: "data_center", id: r.data_center_id }]);
        for (const [id, ps] of dcs) set(type, id, ps);
        break;
      }
      case "disk": {
        const atts = await chunked(ids, (x) => db.selectFrom("disk_attachments").select(["disk_id", "vm_id"]).where("disk_id", "in", x).execute());
        const sds = await chunked(ids, (x) => db.selectFrom("disks").select(["id", "storage_domain_id"]).where("id", "in", x).execute());
        const ps = new Map<string, ObjRef[]>();
        for (const a of atts) ps.set(a.disk_id, [...(ps.get(a.disk_id) ?? []), { type: "vm", id: a.vm_id }]);
        for (const d of sds) ps.set(d.id, [...(ps.get(d.id) ?? []), d.storage_domain_id ? { type: "storage_domain", id: d.storage_domain_id } : SYSTEM]);
        for (const [id, p] of ps) set(type, id, p);
        break;
      }
    }
  }
  return out;
}
