/**
 * The object tree permissions are inherited down, as in oVirt: system → data center → cluster →
 * host / VM / template; data center → storage domain → disk, network → vNIC profile; a disk
 * also inherits from the VMs it is attached to. `ancestors` walks it upwards from one object.
 */
import type { Engine } from "../engine.js";
import { SYSTEM_ID } from "../db/ids.js";

export const OBJECT_TYPES = ["system", "data_center", "cluster", "host", "vm", "template", "disk", "storage_domain", "network", "vnic_profile"] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

export interface ObjRef {
  type: ObjectType;
  id: string;
}

export const SYSTEM: ObjRef = { type: "system", id: SYSTEM_ID };

/** Each type's table (to check an object exists). */
export const TABLE: Record<Exclude<ObjectType, "system">, "data_centers" | "clusters" | "hosts" | "vms" | "templates" | "disks" | "storage_domains" | "networks" | "vnic_profiles"> = {
  data_center: "data_centers",
  cluster: "clusters",
  host: "hosts",
  vm: "vms",
  template: "templates",
  disk: "disks",
  storage_domain: "storage_domains",
  network: "networks",
  vnic_profile: "vnic_profiles",
};

export const key = (o: ObjRef) => `${o.type}:${o.id}`;

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
