/**
 * Rows by id or by reference (`{id}` or `{name}`), for the tables whose rows have both. Missing
 * rows are 404 faults naming the entity as oVirt does.
 */
import type { Kysely, Selectable } from "kysely";
import { notFound } from "../../errors/fault.js";
import type { Ref } from "../../input/input.js";
import type { Engine } from "../../engine.js";
import type { Database } from "../schema.js";

/** Every table looked up here has an id and (most) a name: enough for one generic query. */
type AnyTable = Kysely<Record<string, { id: string; name: string }>>;

export type Named = "data_centers" | "clusters" | "hosts" | "storage_domains" | "vms" | "templates";

const WHAT: Record<Named, string> = {
  data_centers: "Data Center",
  clusters: "Cluster",
  hosts: "Host",
  storage_domains: "Storage Domain",
  vms: "VM",
  templates: "Template",
};

export async function byId<T extends Named | "disks">(e: Engine, table: T, id: string): Promise<Selectable<Database[T]> | undefined> {
  // Generic table access; the row's real type is restored below.
  const row = await (e.db as unknown as AnyTable).selectFrom(table as string).selectAll().where("id", "=", id).executeTakeFirst();
  return row as unknown as Selectable<Database[T]> | undefined;
}

export async function mustById<T extends Named | "disks">(e: Engine, table: T, id: string): Promise<Selectable<Database[T]>> {
  const row = await byId(e, table, id);
  if (!row) throw notFound(table === "disks" ? "Disk" : WHAT[table as Named], id);
  return row;
}

export async function byRef<T extends Named>(e: Engine, table: T, ref: Ref): Promise<Selectable<Database[T]>> {
  if (ref.id) return mustById(e, table, ref.id);
  const row = await (e.db as unknown as AnyTable).selectFrom(table as string).selectAll().where("name", "=", ref.name ?? "").executeTakeFirst();
  if (!row) throw notFound(WHAT[table], `name=${ref.name}`);
  return row as unknown as Selectable<Database[T]>;
}
