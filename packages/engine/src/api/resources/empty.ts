/**
 * Handlers of the empty collections (tables in ../empty-collections.ts): a sub-collection checks
 * its parent and answers none; a top-level one answers none, and 404 for any id.
 */
import { mustById } from "../../db/repo/entities.js";
import { notFound } from "../../errors/fault.js";
import { type Call, ok, pathId, type Reply } from "../call.js";
import type { EmptySub, EmptyTop } from "../empty-collections.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";

const TABLES = { vms: ["vms", "VM"], hosts: ["hosts", "Host"], datacenters: ["data_centers", "Data Center"], clusters: ["clusters", "Cluster"], templates: ["templates", "Template"] } as const;

export async function list(c: Call, s: EmptySub): Promise<Reply> {
  const [table, what] = TABLES[s.parent];
  await mustById(c.engine, table, pathId(c, "id", what));
  applySearch<never>([], c.query, { name: () => "", id: () => "" });
  return ok(s.root, collection(s.item, []));
}

export async function listTop(c: Call, t: EmptyTop): Promise<Reply> {
  applySearch<never>([], c.query, { name: () => "", id: () => "" });
  return ok(t.root, collection(t.item, []));
}

export async function getTop(c: Call, t: EmptyTop): Promise<Reply> {
  throw notFound(t.what, pathId(c, "id", t.what));
}
