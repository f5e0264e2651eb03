/**
 * Storage conversations with nodes that several commands share: connecting a host to a domain's
 * storage server and to a data center's pool, and making a host the SPM. The pool id is the data
 * center id, as in oVirt. Never changes the database except the SPM record of a data center.
 */
import { Code } from "@vela/protocol/errors";
import { BLANK_UUID } from "@vela/protocol/ids";
import type { DataCenter, Host, StorageDomain } from "../db/schema.js";
import { type Engine, sleep } from "../engine.js";
import { NodeError } from "./client.js";
import { hostsOfDc } from "../db/repo/hosts.js";

const BLANK = BLANK_UUID;

/** VDSM storage type numbers. */
const DOM_TYPE: Record<string, number> = { nfs: 1, fcp: 2, iscsi: 3, localfs: 4, posixfs: 6 };

/** Block domains (a VG on LUNs): no storage server to mount; their typeSpecificArg is the VG UUID. */
export function isBlockType(storageType: string): boolean {
  return storageType === "fcp" || storageType === "iscsi";
}

export interface ConnectionSpec {
  domType: number;
  conList: { id: string; connection: string; vfs_type?: string; mnt_options?: string }[];
  /** The typeSpecificArg of createStorageDomain: the connection string. */
  connection: string;
}

export function connectionOf(sd: Pick<StorageDomain, "storage_type" | "storage_address" | "storage_path" | "connection_id" | "vfs_type" | "mount_options">): ConnectionSpec {
  const domType = DOM_TYPE[sd.storage_type];
  if (!domType) throw new Error(`unsupported storage type ${sd.storage_type}`);
  const connection = sd.storage_address ? `${sd.storage_address}:${sd.storage_path}` : sd.storage_path;
  const entry: ConnectionSpec["conList"][number] = { id: sd.connection_id, connection };
  if (sd.vfs_type) entry.vfs_type = sd.vfs_type;
  if (sd.mount_options) entry.mnt_options = sd.mount_options;
  return { domType, conList: [entry], connection };
}

/** connectStorageServer reports per-connection status codes; any non-zero is a failure. */
export async function connectServer(e: Engine, host: Host, sd: StorageDomain, poolId = BLANK): Promise<void> {
  // FCP LUNs are there or not; iSCSI logins are not implemented yet (this machine kind has no iscsi_tcp).
  if (isBlockType(sd.storage_type)) return;
  const c = connectionOf(sd);
  const res = await e.nodes.for(host).call("connectStorageServer", { domType: c.domType, spUUID: poolId, conList: c.conList });
  const bad = res.find((s) => s.status !== 0);
  if (bad) throw new NodeError("StoragePool.connectStorageServer", bad.status, `cannot connect to storage server ${c.connection}`);
}

export async function disconnectServer(e: Engine, host: Host, sd: StorageDomain, poolId = BLANK): Promise<void> {
  if (isBlockType(sd.storage_type)) return;
  const c = connectionOf(sd);
  await e.nodes.for(host).call("disconnectStorageServer", { domType: c.domType, spUUID: poolId, conList: c.conList });
}

export async function connectPool(e: Engine, host: Host, dc: DataCenter): Promise<void> {
  if (!dc.master_domain_id) return;
  await e.nodes.for(host).call("connectStoragePool", {
    spUUID: dc.id,
    hostID: host.spm_id,
    scsiKey: dc.id,
    msdUUID: dc.master_domain_id,
    masterVersion: dc.master_version,
  });
}

/** Last known SPM generation per pool, for a takeover (prevLVER). */
const lastLver = new Map<string, { id: number; lver: string }>();

export async function spmStatus(e: Engine, host: Host, dc: DataCenter, opts?: { timeoutMs?: number }): Promise<{ status: string; id: number; lver: string }> {
  const st = await e.nodes.for(host).call("getSpmStatus", { spUUID: dc.id }, opts);
  const out = { status: st.spmStatus, id: st.spmId, lver: String(st.spmLver) };
  e.spmRole.set(host.id, out.status === "SPM" ? "spm" : out.status === "Contend" ? "contending" : "none");
  if (out.status === "SPM") {
    lastLver.set(dc.id, { id: out.id, lver: out.lver });
    if (dc.spm_lver !== out.lver) await e.db.updateTable("data_centers").set({ spm_lver: out.lver }).where("id", "=", dc.id).execute();
  }
  return out;
}

/**
 * Makes `host` the SPM of the data center's pool and records it. spmStart is a node task; the
 * role is confirmed by getSpmStatus, as VDSM's clients did.
 */
export async function startSpm(e: Engine, host: Host, dc: DataCenter, timeoutMs = 180_000): Promise<void> {
  const prev = lastLver.get(dc.id);
  const client = e.nodes.for(host);
  await e.db.updateTable("data_centers").set({ spm_contending: 1 }).where("id", "=", dc.id).execute();
  try {
    await runSpmStart(e, host, dc, client, prev, timeoutMs);
  } finally {
    await e.db.updateTable("data_centers").set({ spm_contending: 0 }).where("id", "=", dc.id).execute();
  }
  e.spmRole.set(host.id, "spm");
  await e.db.updateTable("data_centers").set({ spm_host_id: host.id }).where("id", "=", dc.id).execute();
  e.log.info({ dc: dc.name, host: host.name }, "host is SPM");
}

async function runSpmStart(
  e: Engine,
  host: Host,
  dc: DataCenter,
  client: ReturnType<Engine["nodes"]["for"]>,
  prev: { id: number; lver: string } | undefined,
  timeoutMs: number,
): Promise<void> {
  const taskId = await client.call("spmStart", {
    spUUID: dc.id,
    prevID: prev && prev.id !== host.spm_id ? prev.id : -1,
    prevLVER: prev ? prev.lver : "-1",
    recoveryMode: 0,
    scsiFencing: false,
    maxHostID: 250,
    domVersion: 5,
  });
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    const st = await spmStatus(e, host, dc);
    if (st.status === "SPM") break;
    if (typeof taskId === "string") {
      const t = await client.call("getTaskStatus", { taskID: taskId }).catch(() => undefined);
      if (t && (t.taskState === "finished" || t.taskState === "failed") && t.taskResult !== "success") {
        await client.call("clearTask", { taskID: taskId }).catch(() => undefined);
        throw new NodeError("StoragePool.spmStart", t.code, t.message || "spmStart failed");
      }
    }
    if (Date.now() > deadline) throw new NodeError("StoragePool.spmStart", Code.ResourceTimeout, `host ${host.name} did not become SPM in ${timeoutMs} ms`);
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
  if (typeof taskId === "string") await client.call("clearTask", { taskID: taskId }).catch(() => undefined);
}

/**
 * Brings a host that just came up into its data center's pool: storage connections, pool
 * connection, and the SPM role if nobody holds it. Idempotent: a host already connected is left as is.
 */
export async function joinPool(e: Engine, hostId: string): Promise<void> {
  const host = await e.db.selectFrom("hosts").selectAll().where("id", "=", hostId).executeTakeFirst();
  if (host?.status !== "up") return;
  const cluster = await e.db.selectFrom("clusters").selectAll().where("id", "=", host.cluster_id).executeTakeFirst();
  if (!cluster?.data_center_id) return;
  const dc = await e.db.selectFrom("data_centers").selectAll().where("id", "=", cluster.data_center_id).executeTakeFirst();
  if (!dc?.master_domain_id) return;
  const client = e.nodes.for(host);
  const connected = await client
    .call("getStoragePoolInfo", { spUUID: dc.id })
    .then(() => true)
    .catch(() => false);
  if (!connected) {
    const domains = await e.db
      .selectFrom("storage_domains")
      .innerJoin("storage_domain_attachments", "storage_domain_attachments.storage_domain_id", "storage_domains.id")
      .selectAll("storage_domains")
      .where("storage_domain_attachments.data_center_id", "=", dc.id)
      .execute();
    for (const sd of domains) await connectServer(e, host, sd, dc.id);
    await connectPool(e, host, dc);
    e.log.info({ host: host.name, dc: dc.name }, "host connected to storage pool");
  }
  await ensureSpm(e, dc.id);
}

/** Elects an SPM for the data center when none of its up hosts holds the role. */
export async function ensureSpm(e: Engine, dcId: string): Promise<void> {
  const dc = await e.db.selectFrom("data_centers").selectAll().where("id", "=", dcId).executeTakeFirst();
  if (!dc?.master_domain_id) return;
  const key = `spm:${dc.id}`;
  if (e.locks.isHeld(key)) return;
  const release = e.locks.acquire([key], "elect SPM");
  try {
    const current = dc.spm_host_id ? await e.db.selectFrom("hosts").selectAll().where("id", "=", dc.spm_host_id).executeTakeFirst() : undefined;
    if (current && current.status === "up") {
      const st = await spmStatus(e, current, dc).catch(() => undefined);
      if (st?.status === "SPM") return;
      // The node lost the role (restarted): it is the natural candidate again.
      await startSpm(e, current, dc);
      return;
    }
    const ups = await hostsOfDc(e, dc.id, { status: "up", bySpmPriority: true });
    for (const h of ups) {
      const st = await spmStatus(e, h, dc).catch(() => undefined);
      if (st?.status === "SPM") {
        await e.db.updateTable("data_centers").set({ spm_host_id: h.id }).where("id", "=", dc.id).execute();
        return;
      }
    }
    const candidate = ups[0];
    if (!candidate) {
      if (dc.spm_host_id) await e.db.updateTable("data_centers").set({ spm_host_id: null }).where("id", "=", dc.id).execute();
      return;
    }
    await startSpm(e, candidate, dc);
  } finally {
    release();
  }
}

/**
 * After the pool's membership changed (a domain attached, activated or detached), every up host
 * rebuilds its pool view (`<run>/<spUUID>/<sdUUID>` links): connectStoragePool on a connected
 * host is idempotent and relinks the members (the verb table has no refreshStoragePool).
 * Best effort: a host that fails is reconnected when it next joins the pool.
 */
export async function refreshPoolViews(e: Engine, dc: DataCenter, hosts: Host[]): Promise<void> {
  for (const h of hosts) {
    await connectPool(e, h, dc).catch((err: unknown) => e.log.warn({ err, host: h.name, dc: dc.name }, "refreshing the pool view failed"));
  }
}
