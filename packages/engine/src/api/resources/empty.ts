/** Handlers of the empty sub-collections (table in ../empty-collections.ts): check the parent, answer none. */
import { mustById } from "../../db/repo/entities.js";
import { type Call, ok, pathId, type Reply } from "../call.js";
import type { EmptySub } from "../empty-collections.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";

const TABLES = { vms: ["vms", "VM"], hosts: ["hosts", "Host"], datacenters: ["data_centers", "Data Center"], clusters: ["clusters", "Cluster"], templates: ["templates", "Template"] } as const;

export async function list(c: Call, s: EmptySub): Promise<Reply> {
  const [table, what] = TABLES[s.parent];
  await mustById(c.engine, table, pathId(c, "id", what));
  applySearch<never>([], c.query, { name: () => "", id: () => "" });
  return ok(s.root, collection(s.item, []));
}
