/** /clusters: list, get, add, remove. */
import { AddCluster } from "../../commands/AddCluster.js";
import { runCommand } from "../../commands/command.js";
import { mustById } from "../../db/repo/entities.js";
import { RemoveCluster } from "../../commands/RemoveCluster.js";
import type { Cluster } from "../../db/schema.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { collection } from "../repr.js";
import { refNames } from "../ref-names.js";
import { applySearch } from "../search.js";
import { clusterView } from "../views.js";

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("clusters").selectAll().orderBy("name").execute();
  const n = await refNames(c.engine);
  const found = applySearch(rows, c.query, { name: (r: Cluster) => r.name, id: (r) => r.id, datacenter: (r) => n.dc(r.data_center_id) });
  return ok("clusters", collection("cluster", found.map(clusterView)));
}

export async function get(c: Call): Promise<Reply> {
  return ok("cluster", clusterView(await mustById(c.engine, "clusters", pathId(c, "id", "Cluster"))));
}

export async function add(c: Call): Promise<Reply> {
  return ok("cluster", clusterView(await runCommand(c.engine, AddCluster, bodyOf(c, ["cluster"]))), 201);
}

export async function remove(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveCluster, { id: pathId(c, "id", "Cluster") });
  return { status: 200 };
}
