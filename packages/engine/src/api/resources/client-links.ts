/**
 * Sub-collections that GLib clients follow by link: libgovirt (remote-viewer's oVirt library)
 * reads a cluster's hosts through `<link rel="hosts">`, a host's VMs through `<link rel="vms">`,
 * and a VM's CD-ROMs through `<link rel="cdroms">` (oVirt's cdroms collection, which the Ansible
 * modules read too). Vela VMs have one CD-ROM device, empty, with oVirt's fixed id.
 */

import { BLANK_UUID } from "@vela/protocol/ids";
import { mustById } from "../../db/repo/entities.js";
import { notFound } from "../../errors/fault.js";
import { type Call, ok, pathId, type Reply } from "../call.js";
import { href, ref } from "../href.js";
import { collection, type Rep } from "../repr.js";
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

function cdromView(vmId: string): Rep {
  return { href: href("vms", vmId, "cdroms", BLANK_UUID), id: BLANK_UUID, vm: ref("vms", vmId) };
}

export async function vmCdroms(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  return ok("cdroms", collection("cdrom", [cdromView(vm.id)]));
}

export async function vmCdrom(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  const cd = (c.params.cd ?? "").toLowerCase();
  if (cd !== BLANK_UUID) throw notFound("CD-ROM", cd.slice(0, 80));
  return ok("cdrom", cdromView(vm.id));
}
