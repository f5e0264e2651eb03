/** /templates: the Blank template (and, later, templates made from VMs). Read-only for now. */
import { mustById } from "../../commands/lookup.js";
import type { Template } from "../../db/schema.js";
import { type Call, ok, pathId, type Reply } from "../call.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";
import { templateView } from "../views.js";

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("templates").selectAll().orderBy("name").execute();
  const found = applySearch(rows, c.query, { name: (r: Template) => r.name, id: (r) => r.id });
  return ok("templates", collection("template", found.map(templateView)));
}

export async function get(c: Call): Promise<Reply> {
  return ok("template", templateView(await mustById(c.engine, "templates", pathId(c, "id", "Template"))));
}
