/**
 * The quota API (oVirt v4's shapes): /datacenters/{id}/quotas (list, add; get, update, remove
 * one) and each quota's quotaclusterlimits and quotastoragelimits (list, add, get, remove) with
 * the usage now. Every change runs as a command (commands/*Quota*.ts).
 */
import { AddQuota } from "../commands/AddQuota.js";
import { AddQuotaLimit } from "../commands/AddQuotaLimit.js";
import { runCommand } from "../commands/command.js";
import { RemoveQuota } from "../commands/RemoveQuota.js";
import { RemoveQuotaLimit } from "../commands/RemoveQuotaLimit.js";
import { UpdateQuota } from "../commands/UpdateQuota.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../api/call.js";
import { collection, type Rep } from "../api/repr.js";
import { applySearch } from "../api/search.js";
import { quotaClusterLimitView, quotaStorageLimitView, quotaView } from "../api/views.js";
import { mustById } from "../db/repo/entities.js";
import type { Quota, QuotaLimit } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { notFound } from "../errors/fault.js";
import { clusterUsage, type LimitKind, limitsOf, mustQuota, quotasOf, storageUsage } from "./store.js";

const dcOf = (c: Call) => pathId(c, "id", "Data Center");

async function quotaOfPath(c: Call): Promise<Quota> {
  const dc = dcOf(c);
  await mustById(c.engine, "data_centers", dc);
  return mustQuota(c.engine, dc, pathId(c, "quota", "Quota"));
}

export async function list(c: Call): Promise<Reply> {
  const dc = await mustById(c.engine, "data_centers", dcOf(c));
  const rows = applySearch(await quotasOf(c.engine, dc.id), c.query, { name: (q: Quota) => q.name, id: (q) => q.id });
  return ok("quotas", collection("quota", rows.map(quotaView)));
}

export async function get(c: Call): Promise<Reply> {
  return ok("quota", quotaView(await quotaOfPath(c)));
}

export async function add(c: Call): Promise<Reply> {
  const q = await runCommand(c.engine, AddQuota, { dcId: dcOf(c), body: bodyOf(c, ["quota"]) });
  return ok("quota", quotaView(q), 201);
}

export async function update(c: Call): Promise<Reply> {
  const q = await runCommand(c.engine, UpdateQuota, { dcId: dcOf(c), id: pathId(c, "quota", "Quota"), body: bodyOf(c, ["quota"]) });
  return ok("quota", quotaView(q));
}

export async function remove(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveQuota, { dcId: dcOf(c), id: pathId(c, "quota", "Quota") });
  return { status: 200 };
}

const ROOT: Record<LimitKind, [string, string, string]> = {
  cluster: ["quota_cluster_limits", "quota_cluster_limit", "QuotaClusterLimit"],
  storage: ["quota_storage_limits", "quota_storage_limit", "QuotaStorageLimit"],
};

async function limitView(e: Engine, q: Quota, l: QuotaLimit): Promise<Rep> {
  const target = l.target_id === q.id ? null : l.target_id;
  if (l.kind === "cluster") return quotaClusterLimitView(q, l, await clusterUsage(e, q, target));
  return quotaStorageLimitView(q, l, await storageUsage(e, q, target));
}

const limits = (kind: LimitKind) => async (c: Call): Promise<Reply> => {
  const q = await quotaOfPath(c);
  const views = [];
  for (const l of await limitsOf(c.engine, q.id, kind)) views.push(await limitView(c.engine, q, l));
  return ok(ROOT[kind][0], collection(ROOT[kind][1], views));
};

const limit = (kind: LimitKind) => async (c: Call): Promise<Reply> => {
  const q = await quotaOfPath(c);
  const id = pathId(c, "limit", ROOT[kind][2]);
  const l = (await limitsOf(c.engine, q.id, kind)).find((x) => x.target_id === id);
  if (!l) throw notFound(ROOT[kind][2], id);
  return ok(ROOT[kind][1], await limitView(c.engine, q, l));
};

const addLimit = (kind: LimitKind) => async (c: Call): Promise<Reply> => {
  const q = await quotaOfPath(c);
  const l = await runCommand(c.engine, AddQuotaLimit, { dcId: q.data_center_id, quotaId: q.id, kind, body: bodyOf(c, [ROOT[kind][1]]) });
  return ok(ROOT[kind][1], await limitView(c.engine, q, l), 201);
};

const removeLimit = (kind: LimitKind) => async (c: Call): Promise<Reply> => {
  const q = await quotaOfPath(c);
  await runCommand(c.engine, RemoveQuotaLimit, { dcId: q.data_center_id, quotaId: q.id, kind, id: pathId(c, "limit", ROOT[kind][2]) });
  return { status: 200 };
};

export const clusterLimits = limits("cluster");
export const clusterLimit = limit("cluster");
export const addClusterLimit = addLimit("cluster");
export const removeClusterLimit = removeLimit("cluster");
export const storageLimits = limits("storage");
export const storageLimit = limit("storage");
export const addStorageLimit = addLimit("storage");
export const removeStorageLimit = removeLimit("storage");
