/** /hosts: list, get, remove, and the activate/deactivate/approve actions. */
import { runCommand } from "../../commands/command.js";
import { ActivateHost } from "../../commands/ActivateHost.js";
import { ApproveHost } from "../../commands/ApproveHost.js";
import { DeactivateHost } from "../../commands/DeactivateHost.js";
import { ForceSelectSpm } from "../../commands/ForceSelectSpm.js";
import { RemoveHost } from "../../commands/RemoveHost.js";
import { mustById } from "../../db/repo/entities.js";
import type { LunInfo } from "@vela/protocol";
import type { Host } from "../../db/schema.js";
import { conflict } from "../../errors/fault.js";
import type { Engine } from "../../engine.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import type { Rep } from "../repr.js";
import { collection } from "../repr.js";
import { refNames } from "../ref-names.js";
import { applySearch } from "../search.js";
import { hostView, type SpmRole } from "../views.js";

/** Each host's SPM role: the data centers' records say who is SPM; the nodes' reports who contends. */
export async function spmRoles(e: Engine): Promise<(h: Host) => SpmRole> {
  const rows = await e.db.selectFrom("data_centers").select("spm_host_id").where("spm_host_id", "is not", null).execute();
  const spm = new Set(rows.map((r) => r.spm_host_id as string));
  return (h) => (spm.has(h.id) ? "spm" : h.status === "up" && e.spmRole.get(h.id) === "contending" ? "contending" : "none");
}

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("hosts").selectAll().orderBy("name").execute();
  const role = await spmRoles(c.engine);
  const n = await refNames(c.engine);
  const found = applySearch(rows, c.query, {
    name: (r: Host) => r.name,
    id: (r) => r.id,
    status: (r) => r.status,
    address: (r) => r.address,
    cluster: (r) => n.cluster(r.cluster_id),
    datacenter: (r) => n.dcOfCluster(r.cluster_id),
  });
  return ok("hosts", collection("host", found.map((h) => hostView(h, role(h)))));
}

/**
 * GET /hosts/{id}/storage: the LUNs the host can use for block domains (oVirt's host_storage with
 * logical_unit entries), asked from the host itself (getDeviceList).
 */
export async function storage(c: Call): Promise<Reply> {
  const h = await mustById(c.engine, "hosts", pathId(c, "id", "Host"));
  if (h.status !== "up") throw conflict(`Cannot list storage of host ${h.name}: it is ${h.status}, not up`);
  const devs = (await c.engine.nodes.for(h).call("getDeviceList", {})) as unknown as LunInfo[];
  const blockSds = await c.engine.db.selectFrom("storage_domains").select(["id", "storage_path"]).where("storage_type", "in", ["fcp", "iscsi"]).execute();
  const sdOfVg = new Map(blockSds.map((r) => [r.storage_path, r.id]));
  const entries: Rep[] = (Array.isArray(devs) ? devs : []).map((d) => ({
    id: d.GUID,
    type: d.devtype === "iSCSI" ? "iscsi" : "fcp",
    host: { id: h.id, href: `/ovirt-engine/api/hosts/${h.id}` },
    logical_units: {
      logical_unit: [
        {
          id: d.GUID,
          size: d.capacity,
          vendor_id: d.vendorID,
          product_id: d.productID,
          serial: d.serial,
          status: d.status,
          volume_group_id: d.vgUUID || undefined,
          storage_domain_id: d.vgUUID ? sdOfVg.get(d.vgUUID) : undefined,
          paths: String(d.pathstatus.length),
          logical_block_size: d.logicalblocksize,
          physical_block_size: d.physicalblocksize,
        },
      ],
    },
  }));
  return ok("host_storages", collection("host_storage", entries));
}

export async function get(c: Call): Promise<Reply> {
  const h = await mustById(c.engine, "hosts", pathId(c, "id", "Host"));
  return ok("host", hostView(h, (await spmRoles(c.engine))(h)));
}

export async function remove(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveHost, { id: pathId(c, "id", "Host") });
  return { status: 200 };
}

/** oVirt's synchronous action reply: the action echoed with status complete. */
export function actionDone(extra: Rep = {}): Reply {
  return ok("action", { status: "complete", ...extra });
}

export async function activate(c: Call): Promise<Reply> {
  bodyOf(c, ["action"]);
  const h = await runCommand(c.engine, ActivateHost, { id: pathId(c, "id", "Host") });
  return actionDone({ host: { href: `/ovirt-engine/api/hosts/${h.id}`, id: h.id } });
}

export async function deactivate(c: Call): Promise<Reply> {
  bodyOf(c, ["action"]);
  const h = await runCommand(c.engine, DeactivateHost, { id: pathId(c, "id", "Host") });
  return actionDone({ host: { href: `/ovirt-engine/api/hosts/${h.id}`, id: h.id } });
}

export async function approve(c: Call): Promise<Reply> {
  const h = await runCommand(c.engine, ApproveHost, { id: pathId(c, "id", "Host"), body: bodyOf(c, ["action"]) });
  return actionDone({ host: { href: `/ovirt-engine/api/hosts/${h.id}`, id: h.id } });
}

export async function forceSelectSpm(c: Call): Promise<Reply> {
  bodyOf(c, ["action"]);
  const h = await runCommand(c.engine, ForceSelectSpm, { id: pathId(c, "id", "Host") });
  return actionDone({ host: { href: `/ovirt-engine/api/hosts/${h.id}`, id: h.id } });
}
