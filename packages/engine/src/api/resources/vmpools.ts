/**
 * VM pools: Vela has none yet, but clients list them (libgovirt's API object, remote-viewer's VM
 * chooser): an empty collection, searchable, and 404 for any id.
 */

import { notFound } from "../../errors/fault.js";
import type { Call, Reply } from "../call.js";
import { ok, pathId } from "../call.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";

export async function list(c: Call): Promise<Reply> {
  applySearch<never>([], c.query, { name: () => "", id: () => "" });
  return ok("vm_pools", collection("vm_pool", []));
}

export async function get(c: Call): Promise<Reply> {
  throw notFound("VM pool", pathId(c, "id", "VM Pool"));
}
