/**
 * Quota enforcement at the commands that consume (oVirt's QuotaManager rules): a VM start
 * consumes its vCPUs and memory from its quota in its cluster; adding a disk (alone or with a VM
 * made from a template), growing one, copying one (the copy's size on the target domain), moving
 * one (its size on the target domain, nothing where the source and target share one limit) and
 * a snapshot (a new volume per disk, charged at the disk's size) consume provisioned GiB. Each
 * resource is measured against the limit that applies (the cluster's or domain's own, else the
 * quota's global one; none at all counts as zero):
 *   - past soft % of the limit, or past the limit itself: allowed, with a warning event;
 *   - past the limit plus hard % (oVirt's grace): refused (409, nothing changed) when the data
 *     center's mode is `enabled`; allowed with an event when it is `audit`.
 * Mode `disabled` checks nothing. Whoever consumes needs the permit consume_quota on the quota
 * (QuotaConsumer, or an administrative role above it) while the data center's mode is not
 * disabled, as oVirt asks it. Checks run in the commands' validation, so a refusal leaves
 * everything as it was; what a check lets through counts for the next check at once
 * (pending.ts), before the command has written it.
 */
import { ApiFault, conflict, invalid } from "../errors/fault.js";
import { type DataCenter, type Disk, num, type Quota } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { currentActor } from "../events/actor.js";
import { logEvent } from "../events/index.js";
import { Code } from "../events/codes.js";
import { Access } from "../permissions/access.js";
import { type Grant, grant, pendingOf, serially } from "./pending.js";
import { clusterUsage, defaultQuota, limitsOf, modeOf, quotaById, storageUsage } from "./store.js";

/** The quota a new VM or disk of a data center consumes from: the one named, else the default. */
export async function quotaFor(e: Engine, dcId: string, named: { id?: string } | undefined, what: string): Promise<Quota> {
  if (named?.id) {
    const q = await quotaById(e, named.id);
    if (!q) throw invalid(`Cannot ${what}: quota ${named.id} does not exist`);
    if (q.data_center_id !== dcId) throw invalid(`Cannot ${what}: quota ${q.name} belongs to another data center`);
    return q;
  }
  const q = await defaultQuota(e, dcId);
  if (!q) throw conflict(`Cannot ${what}: the data center has no default quota`);
  return q;
}

/** A VM's or disk's recorded quota, or its data center's default (rows made before quotas, or registered from a domain). */
export async function quotaOf(e: Engine, dcId: string, quotaId: string | null): Promise<Quota | undefined> {
  const q = quotaId ? await quotaById(e, quotaId) : undefined;
  return q && q.data_center_id === dcId ? q : defaultQuota(e, dcId);
}

/** The acting user must hold consume_quota on the quota while the data center uses quotas. */
export async function mayConsume(e: Engine, dc: DataCenter, q: Quota, what: string): Promise<void> {
  if (modeOf(dc.quota_mode) === "disabled") return;
  const actor = currentActor();
  if (!actor) return; // the engine's own work (monitoring, recovery): no user to check
  const access = new Access(e, { id: actor.id, name: actor.name });
  if (await access.can("consume_quota", { type: "quota", id: q.id })) return;
  throw new ApiFault(403, "Operation Failed", `[User is not authorized to perform this action.] Cannot ${what}: consuming from quota ${q.name} needs the permit consume_quota on it (role QuotaConsumer)`);
}

/** How far past its limit one resource would go: 0 within the soft %, 1 past it, 2 past the limit, 3 past the hard % (grace). */
type Level = 0 | 1 | 2 | 3;

interface Line {
  what: string;
  used: number;
  add: number;
  /** -1: unlimited. */
  limit: number;
  unit: string;
}

function levelOf(l: Line, softPct: number, hardPct: number): Level {
  if (l.limit < 0 || l.add <= 0) return 0;
  const after = l.used + l.add;
  if (after > (l.limit * (100 + hardPct)) / 100) return 3;
  if (after > l.limit) return 2;
  if (after > (l.limit * softPct) / 100) return 1;
  return 0;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
const said = (l: Line) => `${l.what} ${fmt(l.used)} + ${fmt(l.add)} of ${l.limit < 0 ? "unlimited" : fmt(l.limit)} ${l.unit}`;

const WORDS: Record<Exclude<Level, 0>, string> = {
  1: "is past its soft limit",
  2: "is past its limit (within the grace)",
  3: "is past its hard limit",
};

interface Judged {
  e: Engine;
  dc: DataCenter;
  q: Quota;
  lines: Line[];
  softPct: number;
  hardPct: number;
  what: string;
  refs: { vmId?: string; clusterId?: string; storageDomainId?: string };
}

/** Records the event the worst resource calls for; refuses past the hard limit in mode enabled. */
async function judge(j: Judged): Promise<void> {
  const mode = modeOf(j.dc.quota_mode);
  if (mode === "disabled") return;
  let worst: Level = 0;
  const over: Line[] = [];
  for (const l of j.lines) {
    const lv = levelOf(l, j.softPct, j.hardPct);
    if (lv > 0) over.push(l);
    if (lv > worst) worst = lv;
  }
  if (worst === 0) return;
  const refused = worst === 3 && mode === "enabled";
  const actor = currentActor();
  const text = `Quota ${j.q.name} ${WORDS[worst]} (${over.map(said).join("; ")}) at ${j.what}${refused ? ": refused" : mode === "audit" ? " (audit mode: allowed)" : ": allowed"}${actor ? `, by ${actor.name}` : ""}.`;
  const code = worst === 1 ? Code.QUOTA_SOFT_LIMIT : worst === 2 ? Code.QUOTA_LIMIT : refused ? Code.QUOTA_HARD_LIMIT : Code.QUOTA_HARD_LIMIT_AUDIT;
  await logEvent(j.e, { code, severity: refused ? "error" : "warning", description: text, dataCenterId: j.dc.id, userId: actor?.id, ...j.refs });
  j.e.log.info({ quota: j.q.name, level: worst, mode, refused }, "quota limit crossed");
  if (refused) throw conflict(`Cannot ${j.what}: quota ${j.q.name} has not enough resources left (${over.map(said).join("; ")}; hard limit at ${100 + j.hardPct} % of the limit)`);
}

/** A VM start: its vCPUs and memory against the quota's limit for its cluster (granted while the command holds `vm:<id>`). */
export async function consumeCluster(
  e: Engine,
  a: { dc: DataCenter; quota: Quota; clusterId: string; vcpus: number; memMiB: number; vmId: string; what: string },
): Promise<void> {
  if (modeOf(a.dc.quota_mode) === "disabled") return;
  await mayConsume(e, a.dc, a.quota, a.what);
  await serially(e, a.quota.id, () => checkCluster(e, a));
}

async function checkCluster(e: Engine, a: Parameters<typeof consumeCluster>[1]): Promise<void> {
  const limits = await limitsOf(e, a.quota.id, "cluster");
  const own = limits.find((l) => l.target_id === a.clusterId);
  const global = limits.find((l) => l.target_id === a.quota.id);
  const limit = own ?? global;
  const use = await clusterUsage(e, a.quota, own ? a.clusterId : null, a.vmId);
  for (const g of await pendingOf(e, a.quota.id)) {
    if (own && g.clusterId !== a.clusterId) continue;
    use.vcpus += g.vcpus ?? 0;
    use.memMiB += g.memMiB ?? 0;
  }
  const scope = own ? "in the cluster" : global ? "in the data center" : "(no limit for this cluster)";
  const lines: Line[] = [
    { what: `vCPUs ${scope}`, used: use.vcpus, add: a.vcpus, limit: limit ? Number(limit.vcpu_limit ?? 0) : 0, unit: "vCPUs" },
    { what: `memory ${scope}`, used: use.memMiB / 1024, add: a.memMiB / 1024, limit: limit ? memLimitGiB(limit.memory_limit_mib) : 0, unit: "GiB" },
  ];
  await judge({ e, dc: a.dc, q: a.quota, lines, softPct: a.quota.cluster_soft_limit_pct, hardPct: a.quota.cluster_hard_limit_pct, what: a.what, refs: { vmId: a.vmId, clusterId: a.clusterId } });
  grant(e, { quotaId: a.quota.id, clusterId: a.clusterId, vcpus: a.vcpus, memMiB: a.memMiB, until: { lock: `vm:${a.vmId}` } });
}

export function memLimitGiB(mib: number | string | null): number {
  const n = Number(mib ?? 0);
  return n < 0 ? -1 : n / 1024;
}

/**
 * New storage: GiB per domain (bytes given) against the quota's limits, each domain's own or the
 * global one (over all of them); granted until `until` (the new disks exist, or the command
 * releases its disk lock). Call it last in a validation: a grant outlives a later refusal there.
 */
export async function consumeStorage(
  e: Engine,
  a: {
    dc: DataCenter;
    quota: Quota;
    bytes: Map<string, number>;
    /** Bytes leaving domains at the same time (a move's source): they give back to a limit the target shares. */
    leaving?: Map<string, number>;
    what: string;
    vmId?: string;
    until: Grant["until"];
  },
): Promise<void> {
  if (modeOf(a.dc.quota_mode) === "disabled") return;
  await mayConsume(e, a.dc, a.quota, a.what);
  await serially(e, a.quota.id, () => checkStorage(e, a));
}

/** Bytes the quota's pending grants hold on one domain, or (null) on all of them. */
async function pendingBytes(e: Engine, quotaId: string, domainId: string | null): Promise<number> {
  let n = 0;
  for (const g of await pendingOf(e, quotaId)) for (const [sd, b] of g.bytes ?? []) if (domainId === null || sd === domainId) n += b;
  return n;
}

async function checkStorage(e: Engine, a: Parameters<typeof consumeStorage>[1]): Promise<void> {
  const limits = await limitsOf(e, a.quota.id, "storage");
  const global = limits.find((l) => l.target_id === a.quota.id);
  const lines: Line[] = [];
  let globalAdd = 0;
  for (const [sd, bytes] of a.bytes) {
    const own = limits.find((l) => l.target_id === sd);
    if (!own && global) {
      globalAdd += bytes;
      continue;
    }
    const used = (await storageUsage(e, a.quota, sd)) + (await pendingBytes(e, a.quota.id, sd)) / 2 ** 30;
    lines.push({ what: `storage on domain ${sd}${own ? "" : " (no limit for this domain)"}`, used, add: bytes / 2 ** 30, limit: own ? Number(own.storage_limit_gib ?? 0) : 0, unit: "GiB" });
  }
  for (const [sd, bytes] of a.leaving ?? []) if (global && !limits.some((l) => l.target_id === sd)) globalAdd -= bytes;
  if (global && globalAdd > 0) {
    const used = (await storageUsage(e, a.quota, null)) + (await pendingBytes(e, a.quota.id, null)) / 2 ** 30;
    lines.push({ what: "storage in the data center", used, add: globalAdd / 2 ** 30, limit: Number(global.storage_limit_gib ?? 0), unit: "GiB" });
  }
  await judge({ e, dc: a.dc, q: a.quota, lines, softPct: a.quota.storage_soft_limit_pct, hardPct: a.quota.storage_hard_limit_pct, what: a.what, refs: { vmId: a.vmId, storageDomainId: a.bytes.size === 1 ? [...a.bytes.keys()][0] : undefined } });
  // under a global limit what leaves one domain frees room on the limit at once (a move's net is
  // nothing); a domain's own limit is credited only when the rows say the bytes left
  const granted = new Map(a.bytes);
  if (global) for (const [sd, b] of a.leaving ?? []) granted.set(sd, (granted.get(sd) ?? 0) - b);
  grant(e, { quotaId: a.quota.id, bytes: granted, until: a.until });
}

/**
 * New volumes of existing disks (a snapshot: one per disk, charged at the disk's size; a copy):
 * each disk's bytes from its own quota on `domainOf(disk)`, one check per quota. Call it last in
 * a validation, as consumeStorage.
 */
export async function consumeDisks(e: Engine, dc: DataCenter, disks: Disk[], a: { what: string; vmId?: string; until: Grant["until"]; domainOf?: (d: Disk) => string }): Promise<void> {
  if (modeOf(dc.quota_mode) === "disabled") return;
  const byQuota = new Map<string, { quota: Quota; bytes: Map<string, number> }>();
  for (const d of disks) {
    const quota = await quotaOf(e, dc.id, d.quota_id);
    if (!quota) continue;
    const at = byQuota.get(quota.id) ?? { quota, bytes: new Map<string, number>() };
    const sd = a.domainOf ? a.domainOf(d) : d.storage_domain_id;
    at.bytes.set(sd, (at.bytes.get(sd) ?? 0) + num(d.provisioned_size));
    byQuota.set(quota.id, at);
  }
  for (const { quota, bytes } of byQuota.values()) await consumeStorage(e, { dc, quota, bytes, what: a.what, vmId: a.vmId, until: a.until });
}
