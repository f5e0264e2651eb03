/** /hosts: list, get, remove, the activate/deactivate/approve actions, LUNs and iSCSI discovery/login. */
import { runCommand } from "../../commands/command.js";
import { ActivateHost } from "../../commands/ActivateHost.js";
import { EnrollCertificate } from "../../commands/EnrollCertificate.js";
import { ApproveHost } from "../../commands/ApproveHost.js";
import { DeactivateHost } from "../../commands/DeactivateHost.js";
import { ForceSelectSpm } from "../../commands/ForceSelectSpm.js";
import { RemoveHost } from "../../commands/RemoveHost.js";
import { mustById } from "../../db/repo/entities.js";
import { IscsiAddress, Iqn, type LunInfo } from "@vela/protocol";
import { z } from "zod";
import { parseInput } from "../../input/input.js";
import type { Host } from "../../db/schema.js";
import { ApiFault, conflict } from "../../errors/fault.js";
import { nodeFault } from "../../errors/node-fault.js";
import { randomUUID } from "node:crypto";
import { BLANK_UUID, ErrorCodes } from "@vela/protocol";
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

export async function enrollCertificate(c: Call): Promise<Reply> {
  const h = await runCommand(c.engine, EnrollCertificate, { id: pathId(c, "id", "Host"), body: bodyOf(c, ["action"]) });
  return actionDone({ host: { href: `/ovirt-engine/api/hosts/${h.id}`, id: h.id } });
}

export async function forceSelectSpm(c: Call): Promise<Reply> {
  bodyOf(c, ["action"]);
  const h = await runCommand(c.engine, ForceSelectSpm, { id: pathId(c, "id", "Host") });
  return actionDone({ host: { href: `/ovirt-engine/api/hosts/${h.id}`, id: h.id } });
}

/** oVirt's `<action><iscsi>…</iscsi></action>` for discovery and login; CHAP credentials optional. */
const IscsiDetails = z.strictObject({
  address: IscsiAddress,
  port: z.coerce.number().int().min(1).max(65535).optional().default(3260),
  target: Iqn.optional(),
  portal: z.string().regex(/^\S{1,300}$/).optional(),
  username: z.string().max(256).regex(/^[^\n\r\0]*$/).optional(),
  password: z.string().max(256).regex(/^[^\n\r\0]*$/).optional(),
});
const IscsiAction = z.looseObject({ iscsi: IscsiDetails });

async function upHost(c: Call, what: string): Promise<Host> {
  const h = await mustById(c.engine, "hosts", pathId(c, "id", "Host"));
  if (h.status !== "up") throw conflict(`Cannot ${what} on host ${h.name}: it is ${h.status}, not up`);
  return h;
}

/**
 * POST /hosts/{id}/iscsidiscover: SendTargets discovery from the host (discoverSendTargets).
 * Answers oVirt's `discovered_targets` (address, port, portal, target) and `iscsi_targets`.
 */
export async function iscsiDiscover(c: Call): Promise<Reply> {
  const { iscsi } = parseInput(IscsiAction, bodyOf(c, ["action"]), "Action", "iscsidiscover");
  const h = await upHost(c, "discover iSCSI targets");
  const targets = (await c.engine.nodes.for(h).call("discoverSendTargets", { con: { connection: iscsi.address, port: iscsi.port, user: iscsi.username, password: iscsi.password } })) as unknown as string[];
  const details = (Array.isArray(targets) ? targets : []).map((t) => {
    const [portal = "", target = ""] = t.split(" ");
    const m = /^(.*):(\d+),(\d+)$/.exec(portal);
    return { address: m?.[1] ?? portal, port: m?.[2] ?? "", portal: m ? `${m[1]}:${m[2]},${m[3]}` : portal, target };
  });
  return actionDone({ discovered_targets: { iscsi_details: details }, iscsi_targets: { iscsi_target: details.map((d) => d.target) } });
}

/** POST /hosts/{id}/iscsilogin: the host logs in to one target (connectStorageServer, domType 3). */
export async function iscsiLogin(c: Call): Promise<Reply> {
  const { iscsi } = parseInput(IscsiAction, bodyOf(c, ["action"]), "Action", "iscsilogin");
  if (!iscsi.target) throw new ApiFault(400, "Incomplete parameters", "Action [iscsi.target] required for iscsilogin");
  const h = await upHost(c, "log in to an iSCSI target");
  const tpgt = iscsi.portal ? /,(\d+)$/.exec(iscsi.portal)?.[1] : undefined;
  const con = { id: randomUUID(), connection: iscsi.address, port: String(iscsi.port), iqn: iscsi.target, tpgt, user: iscsi.username, password: iscsi.password };
  const res = (await c.engine.nodes.for(h).call("connectStorageServer", { domType: 3, spUUID: BLANK_UUID, conList: [con] })) as unknown as { id: string; status: number }[];
  const failed = (Array.isArray(res) ? res : []).find((r) => r.status !== 0);
  if (failed) {
    const name = (Object.entries(ErrorCodes).find(([, v]) => v.code === failed.status)?.[0] ?? "GeneralException") as keyof typeof ErrorCodes;
    throw nodeFault(failed.status, `${h.name} could not log in to ${iscsi.target}: ${ErrorCodes[name].message} (code ${failed.status})`);
  }
  return actionDone({ host: { href: `/ovirt-engine/api/hosts/${h.id}`, id: h.id } });
}
