/**
 * Storage pools: creating one (pool keys written into the master domain's metadata), connecting
 * this host to it (checking the master domain and its version, building the
 * `<runDir>/data-center/<spUUID>/{<sdUUID>,mastersd}` links), disconnecting, and its info.
 * Everything a pool is lives on storage; this module only keeps which pool this host joined.
 * Never connects to a master domain whose MASTER_VERSION differs from what the caller expects.
 */
import { type PoolInfo, VdsmError } from "@vela/protocol";
import { mkdir, readdir, rm, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { NodeContext } from "../../api/context.js";
import type { DomainRegistry, StorageDomain } from "../domain/index.js";
import { formatPoolDomains, parsePoolDomains, poolsOf } from "../domain/file.js";
import { errno } from "../fileutil.js";
import type { ClusterLock } from "../lease/index.js";
import { Spm, leaseParamsOf, SPM_LEASE_OFFSET } from "../spm/spm.js";
import type { TaskManager } from "../task/manager.js";

export interface ConnectedPool {
  spUUID: string;
  hostID: number;
  masterSdUUID: string;
  masterVersion: number;
  spm: Spm;
}

export interface CreatePoolArgs {
  spUUID: string;
  poolName: string;
  masterDom: string;
  domList: string[];
  masterVersion: number;
  lockPolicy?: string;
  lockRenewalIntervalSec: number;
  leaseTimeSec: number;
  ioOpTimeoutSec: number;
  leaseRetries: number;
}

/** Services that live as long as a pool connection (host id, election, mailbox: cluster.ts). */
export interface PoolHooks {
  connected(p: ConnectedPool): Promise<void>;
  disconnecting(p: ConnectedPool): Promise<void>;
  infoExtras(p: ConnectedPool): Record<string, unknown>;
}

export class Pools {
  private readonly connected = new Map<string, ConnectedPool>();
  hooks: PoolHooks | undefined;
  readonly root: string;

  constructor(
    private readonly ctx: NodeContext,
    private readonly domains: DomainRegistry,
    private readonly lock: ClusterLock,
    private readonly tasks: TaskManager,
  ) {
    this.root = join(ctx.config.runDir, "data-center");
  }

  get(spUUID: string): ConnectedPool {
    const p = this.connected.get(spUUID);
    if (!p) throw new VdsmError("StoragePoolUnknown", spUUID);
    return p;
  }

  find(spUUID: string): ConnectedPool | undefined {
    return this.connected.get(spUUID);
  }

  all(): ConnectedPool[] {
    return [...this.connected.values()];
  }

  async master(p: ConnectedPool): Promise<StorageDomain> {
    return this.domains.get(p.masterSdUUID);
  }

  async create(a: CreatePoolArgs): Promise<void> {
    if (!a.domList.includes(a.masterDom)) throw new VdsmError("InvalidParameter", `masterDom ${a.masterDom} is not in domList`);
    if (this.connected.has(a.spUUID)) throw new VdsmError("StoragePoolAlreadyExists", a.spUUID);
    checkLeaseTimes(a.leaseTimeSec, a.lockRenewalIntervalSec);
    const doms: StorageDomain[] = [];
    let masterVersion = "";
    for (const sd of new Set(a.domList)) {
      const d = await this.domains.get(sd);
      const md = await d.metadata();
      if (md.CLASS !== "Iso" && poolsOf(md).length) throw new VdsmError("StorageDomainAlreadyAttached", `${sd} is in pool ${poolsOf(md)[0]}`);
      if (sd === a.masterDom) {
        if (md.CLASS !== "Data") throw new VdsmError("StorageDomainClassError", `master ${sd} is ${md.CLASS}`);
        masterVersion = md.VERSION;
      }
      doms.push(d);
    }
    for (const d of doms) {
      const md = await d.metadata();
      if (md.CLASS === "Data" && md.VERSION !== masterVersion) throw new VdsmError("MixedSDVersionError", `${d.sdUUID} v${md.VERSION} vs master v${masterVersion}`);
    }
    const msd = doms.find((d) => d.sdUUID === a.masterDom)!;
    // Hold the SPM lease while writing, so two hosts cannot make a pool of the same domain.
    const params = { ...leaseParamsOf({ LEASETIMESEC: String(a.leaseTimeSec), LOCKRENEWALINTERVALSEC: String(a.lockRenewalIntervalSec) }, msd.leasesPath()) };
    await msd.prepareHost?.();
    await this.lock.init(msd.leasesPath(), SPM_LEASE_OFFSET).catch(() => {});
    const lease = await this.lock.acquire(params, `create-${this.ctx.config.hostUuid.slice(0, 8)}`);
    try {
      const members = new Map<string, string>([[a.masterDom, "Active"]]);
      for (const d of doms) if (d.sdUUID !== a.masterDom) members.set(d.sdUUID, "Attached");
      await msd.prepareMaster?.();
      await writeMaster(msd, a, members, -1);
      for (const d of doms) if (d !== msd) await d.update({ POOL_UUID: a.spUUID });
    } finally {
      await msd.releaseMaster?.().catch(() => {});
      await lease.release();
    }
  }

  /** Connects run one at a time: two at once (the engine's join and a retry) made two pools. */
  private connecting: Promise<unknown> = Promise.resolve();

  connect(spUUID: string, hostID: number, msdUUID: string, masterVersion: number): Promise<void> {
    const run = this.connecting.then(() => this.connectNow(spUUID, hostID, msdUUID, masterVersion));
    this.connecting = run.catch(() => {});
    return run;
  }

  private async connectNow(spUUID: string, hostID: number, msdUUID: string, masterVersion: number): Promise<void> {
    const existing = this.connected.get(spUUID);
    if (existing) {
      if (existing.hostID === hostID && existing.masterSdUUID === msdUUID) {
        // Already connected: still check the caller's view of the master against storage.
        const md = await (await this.domains.get(msdUUID)).metadata({ fresh: true });
        if (Number(md.MASTER_VERSION) !== masterVersion) {
          throw new VdsmError("StoragePoolWrongMaster", `${msdUUID} has master version ${md.MASTER_VERSION}, expected ${masterVersion}`);
        }
        existing.masterVersion = masterVersion;
        await this.buildLinks(existing);
        return;
      }
      if (existing.spm.role !== "Free") throw new VdsmError("IsSpm", spUUID);
    } else if (this.connected.size) {
      throw new VdsmError("CannotConnectMultiplePools", [...this.connected.keys()].join(","));
    }
    const msd = await this.domains.find(msdUUID);
    if (!msd) throw new VdsmError("StoragePoolMasterNotFound", `${spUUID}: master ${msdUUID} not found`);
    const md = await msd.metadata({ fresh: true });
    if (md.ROLE !== "Master" || !poolsOf(md).includes(spUUID)) {
      throw new VdsmError("StoragePoolWrongMaster", `${msdUUID} is not the master of ${spUUID}`);
    }
    if (Number(md.MASTER_VERSION) !== masterVersion) {
      throw new VdsmError("StoragePoolWrongMaster", `${msdUUID} has master version ${md.MASTER_VERSION}, expected ${masterVersion}`);
    }
    const pool = { spUUID, hostID, masterSdUUID: msdUUID, masterVersion } as ConnectedPool;
    // The role follows the master when switchMaster moves it (remaster below).
    pool.spm = new Spm(this.ctx, this.lock, spUUID, hostID, () => this.domains.get(pool.masterSdUUID), this.tasks);
    await this.buildLinks(pool);
    this.connected.set(spUUID, pool);
    try {
      await this.hooks?.connected(pool);
    } catch (err) {
      this.connected.delete(spUUID);
      throw err;
    }
    this.ctx.log.info({ spUUID, hostID, msdUUID, masterVersion }, "pool connected");
  }

  /** `<root>/<spUUID>/<sdUUID>` → domain dir for each reachable member; `mastersd` → master. */
  async buildLinks(p: ConnectedPool): Promise<void> {
    const dir = join(this.root, p.spUUID);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const msd = await this.domains.get(p.masterSdUUID);
    const members = parsePoolDomains((await msd.metadata()).POOL_DOMAINS);
    members.set(msd.sdUUID, members.get(msd.sdUUID) ?? "Active");
    const want = new Map<string, string>();
    for (const sd of members.keys()) {
      const d = await this.domains.find(sd);
      if (!d) continue;
      // Block domains: their special LVs get devices on this host (host ids, leases, mailbox).
      await d.prepareHost?.();
      want.set(sd, d.dir);
    }
    want.set("mastersd", msd.dir);
    for (const name of await readdir(dir)) if (!want.has(name)) await unlink(join(dir, name)).catch(() => {});
    for (const [name, target] of want) await relink(join(dir, name), target);
  }

  /**
   * The connected pool now lives on `msdUUID` (switchMaster by this host, which stays SPM):
   * links rebuilt and the cluster services (host ids, mailbox, election) restarted on the new
   * master, keeping the same Spm.
   */
  async remaster(p: ConnectedPool, msdUUID: string, masterVersion: number): Promise<void> {
    const md = await (await this.domains.get(msdUUID)).metadata({ fresh: true });
    if (md.ROLE !== "Master" || !poolsOf(md).includes(p.spUUID) || Number(md.MASTER_VERSION) !== masterVersion) {
      throw new VdsmError("StoragePoolWrongMaster", `${msdUUID} is not master version ${masterVersion} of ${p.spUUID}`);
    }
    p.masterSdUUID = msdUUID;
    p.masterVersion = masterVersion;
    await this.buildLinks(p);
    await this.hooks?.disconnecting(p);
    await this.hooks?.connected(p);
    this.ctx.log.info({ spUUID: p.spUUID, msdUUID, masterVersion }, "pool re-pointed to its new master");
  }

  async disconnect(spUUID: string, hostID: number): Promise<void> {
    const p = this.get(spUUID);
    if (p.hostID !== hostID) throw new VdsmError("StoragePoolDisconnectionError", `host id ${hostID} is not this host's (${p.hostID})`);
    if (p.spm.role !== "Free") throw new VdsmError("IsSpm", spUUID);
    await this.hooks?.disconnecting(p);
    this.connected.delete(spUUID);
    await rm(join(this.root, spUUID), { recursive: true, force: true });
    this.ctx.log.info({ spUUID }, "pool disconnected");
  }

  /** VDSM's getStoragePoolInfo: `info` and per-domain `dominfo`. */
  async info(spUUID: string): Promise<{ info: PoolInfo; dominfo: Record<string, unknown> }> {
    const p = this.get(spUUID);
    const msd = await this.master(p);
    const md = await msd.metadata();
    const st = await p.spm.status();
    const members = parsePoolDomains(md.POOL_DOMAINS);
    const dominfo: Record<string, unknown> = {};
    for (const [sd, status] of members) {
      const d = await this.domains.find(sd);
      const entry: Record<string, unknown> = { status, alerts: [], isoprefix: "" };
      if (d) {
        try {
          const dmd = await d.metadata();
          const sp = await d.space();
          Object.assign(entry, { version: Number(dmd.VERSION), disktotal: String(sp.total), diskfree: String(sp.free) });
        } catch (err) {
          entry.alerts = [{ code: err instanceof VdsmError ? err.code : 379, message: (err as Error).message }];
        }
      } else {
        entry.alerts = [{ code: 358, message: "domain not visible on this host" }];
      }
      dominfo[sd] = entry;
    }
    return {
      info: {
        spm_id: st.spmId,
        master_uuid: msd.sdUUID,
        name: md.POOL_DESCRIPTION ?? "",
        version: md.VERSION,
        domains: md.POOL_DOMAINS ?? "",
        pool_status: "connected",
        isoprefix: "",
        type: md.TYPE,
        master_ver: Number(md.MASTER_VERSION),
        lver: st.spmLver,
        ...this.hooks?.infoExtras(p),
      },
      dominfo,
    };
  }
}

export function checkLeaseTimes(leaseTimeSec: number, renewSec: number): void {
  // The holder must be able to renew at least twice inside its safe horizon (lease − 2 op_max).
  if (renewSec < 1 || leaseTimeSec * 1000 - 2000 < 2 * renewSec * 1000) {
    throw new VdsmError("InvalidParameter", `leaseTimeSec=${leaseTimeSec} too short for lockRenewalIntervalSec=${renewSec}`);
  }
}

async function relink(path: string, target: string): Promise<void> {
  try {
    await symlink(target, path);
  } catch (err) {
    if (errno(err) !== "EEXIST") throw err;
    await unlink(path);
    await symlink(target, path);
  }
}

/** Pool parameters that end up as keys of the master domain's metadata. */
export interface MasterKeys {
  spUUID: string;
  poolName: string;
  masterVersion: number;
  lockPolicy?: string;
  lockRenewalIntervalSec: number;
  leaseTimeSec: number;
  ioOpTimeoutSec: number;
  leaseRetries: number;
}

/**
 * Makes `msd` the pool's master: the pool keys in its metadata (no SPM yet, LVER as given) and
 * its `master/{vms,tasks}` directories. Shared by pool creation and master reconstruction.
 */
export async function writeMaster(msd: StorageDomain, a: MasterKeys, members: Map<string, string>, lver: number): Promise<void> {
  await msd.update({
    ROLE: "Master",
    POOL_UUID: a.spUUID,
    POOL_DESCRIPTION: a.poolName,
    POOL_DOMAINS: formatPoolDomains(members),
    POOL_SPM_ID: "-1",
    POOL_SPM_LVER: String(lver),
    MASTER_VERSION: String(a.masterVersion),
    LOCKPOLICY: a.lockPolicy ?? "",
    LOCKRENEWALINTERVALSEC: String(a.lockRenewalIntervalSec),
    LEASETIMESEC: String(a.leaseTimeSec),
    IOOPTIMEOUTSEC: String(a.ioOpTimeoutSec),
    LEASERETRIES: String(a.leaseRetries),
  });
  await mkdir(join(msd.masterDir(), "vms"), { recursive: true, mode: 0o755 });
  await mkdir(join(msd.masterDir(), "tasks"), { recursive: true, mode: 0o755 });
}
