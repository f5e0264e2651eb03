/**
 * Sub-collections that GLib clients follow by link: libgovirt (remote-viewer's oVirt library)
 * reads a cluster's hosts through `<link rel="hosts">` and a host's VMs through `<link rel="vms">`
 * (a VM's CD-ROMs, which it reads through `<link rel="cdroms">` too, are in cdroms.ts).
 */

import { mustById } from "../../db/repo/entities.js";
import { type Call, ok, pathId, type Reply } from "../call.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";
import { hostView, vmView } from "../views.js";
import { spmRoles } from "./hosts.js";

export async function clusterHosts(c: Call): Promise<Reply> {
  const cluster = await mustById(c.engine, "clusters", pathId(c, "id", "Cluster"));
  const rows = await c.engine.db.selectFrom("hosts").selectAll().where("cluster_id", "=", cluster.id).orderBy("name").execute();
  const role = await spmRoles(c.engine);
  const found = applySearch(rows, c.query, { name: (r) => r.name, id: (r) => r.id, status: (r) => r.status });
  return ok("hosts", collection("host", found.map((h) => hostView(h, role(h)))));
}

export async function hostVms(c: Call): Promise<Reply> {
  const host = await mustById(c.engine, "hosts", pathId(c, "id", "Host"));
  const rows = await c.engine.db.selectFrom("vms").selectAll().where("run_on_host_id", "=", host.id).where("status", "!=", "down").orderBy("name").execute();
  const found = applySearch(rows, c.query, { name: (r) => r.name, id: (r) => r.id, status: (r) => r.status });
  return ok("vms", collection("vm", found.map(vmView)));
}
