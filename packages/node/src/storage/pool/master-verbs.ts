/**
 * Pool-level verbs that move or remove the master role: refreshStoragePool, switchMaster,
 * reconstructMaster and destroyStoragePool. The master domain is where a pool
 * lives on storage (pool keys in its metadata, master/ with tasks and VM definitions, the SPM
 * lease), so each of these rewrites domain metadata in an order where a crash leaves a pool that
 * connectStoragePool or reconstructMaster can still find: the new master is sealed before the old
 * one is demoted, and MASTER_VERSION only goes up. Never demotes a master while another host may
 * hold its SPM lease, and never rewrites a domain that is not in the pool.
 */

import { cp, rm } from "node:fs/promises";
import { join } from "node:path";
import { VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../../api/handlers.js";
import type { StorageDeps } from "../deps.js";
import { parsePoolDomains, poolsOf } from "../domain/file.js";
import type { FileDomain, StorageDomain } from "../domain/index.js";
import { type ConnectedPool, checkLeaseTimes, writeMaster } from "./pool.js";
import { leaseParamsOf, SPM_LEASE_OFFSET } from "../spm/spm.js";
import { TaskStore } from "../task/store.js";

/** Keys only the master domain carries. */
const POOL_KEYS = ["POOL_DESCRIPTION", "POOL_DOMAINS", "POOL_SPM_ID", "POOL_SPM_LVER", "MASTER_VERSION"] as const;

/** The changes that demote a master to a regular member of `spUUID` (or of no pool). */
function demotion(keepPool: boolean, spUUID: string): Record<string, string | null> {
  const ch: Record<string, string | null> = { ROLE: "Regular", POOL_UUID: keepPool ? spUUID : "" };
  for (const k of POOL_KEYS) ch[k] = null;
  return ch;
}

export function masterVerbs(d: StorageDeps): PartialHandlers {
  const log = d.ctx.log.child({ sub: "pool-verbs" });

  /** Reconnects this host to the pool through `msdUUID` (after the master moved). */
  async function reconnect(p: ConnectedPool, msdUUID: string, masterVersion: number): Promise<void> {
    await d.pools.disconnect(p.spUUID, p.hostID);
    await d.pools.connect(p.spUUID, p.hostID, msdUUID, masterVersion);
    d.connected(d.pools.get(p.spUUID));
  }

  return {
    refreshStoragePool: async ({ spUUID, msdUUID, masterVersion }) => {
      const p = d.pools.get(spUUID);
      if (msdUUID === p.masterSdUUID) {
        // Same master: connect's own checks (role, version) and a rebuilt pool view.
        await d.pools.connect(spUUID, p.hostID, msdUUID, masterVersion);
        return {};
      }
      if (p.spm.role === "SPM") throw new VdsmError("IsSpm", `${spUUID}: the SPM moves the master with switchMaster`);
      const dom = await d.domains.get(msdUUID);
      const md = await dom.metadata({ fresh: true });
      if (md.ROLE !== "Master" || !poolsOf(md).includes(spUUID) || Number(md.MASTER_VERSION) !== masterVersion) {
        throw new VdsmError("StoragePoolWrongMaster", `${msdUUID} is not master version ${masterVersion} of ${spUUID}`);
      }
      // Self-election may be trying the old master's free lease right now (after a switchMaster
      // by the SPM): that attempt fails on a demoted domain. Let it end; nothing is awaited
      // between its end and the disconnect, so no new attempt starts in between.
      if (p.spm.role === "Contend") await p.spm.contend().catch(() => {});
      if (p.spm.role !== "Free") throw new VdsmError("IsSpm", `${spUUID}: the SPM moves the master with switchMaster`);
      await reconnect(p, msdUUID, masterVersion);
      return {};
    },

    switchMaster: async ({ spUUID, oldMasterUUID, newMasterUUID, masterVersion }) => {
      const p = d.spmOf(spUUID);
      if (oldMasterUUID !== p.masterSdUUID) throw new VdsmError("StoragePoolWrongMaster", `${oldMasterUUID} is not the master of ${spUUID}`);
      if (newMasterUUID === oldMasterUUID) throw new VdsmError("InvalidParameter", "the new master is the current one");
      const old = await d.domains.get(oldMasterUUID);
      const omd = await old.metadata({ fresh: true });
      if (masterVersion <= Number(omd.MASTER_VERSION)) {
        throw new VdsmError("StoragePoolWrongMaster", `master version ${masterVersion} must exceed ${omd.MASTER_VERSION}`);
      }
      const members = parsePoolDomains(omd.POOL_DOMAINS);
      if (members.get(newMasterUUID) !== "Active") throw new VdsmError("StorageDomainNotMemberOfPool", `${newMasterUUID} is not an active member of ${spUUID}`);
      const nu = await d.domains.getFile(newMasterUUID);
      const nmd = await nu.metadata({ fresh: true });
      if (nmd.CLASS !== "Data") throw new VdsmError("StorageDomainClassError", `${newMasterUUID} is ${nmd.CLASS}`);
      if (nmd.VERSION !== omd.VERSION) throw new VdsmError("MixedSDVersionError", `${newMasterUUID} v${nmd.VERSION}`);
      const busy = d.tasks.running();
      if (busy.length) throw new VdsmError("TaskInProgress", `tasks still running: ${busy.map((t) => t.id).join(",")}`);
      // Not persisted: its tasks directory is what moves. A crash before the old master is
      // demoted leaves two masters, and connect/reconstruct pick the higher MASTER_VERSION.
      // The SPM keeps its role (and LVER): the lease moves with the master (Spm.moveMaster).
      const id = d.startTask(
        "switchMaster",
        async () => {
          d.spmOf(spUUID);
          await rm(nu.masterDir(), { recursive: true, force: true });
          await cp(old.masterDir(), nu.masterDir(), { recursive: true, errorOnExist: false });
          await d.lock.init(nu.leasesPath(), SPM_LEASE_OFFSET);
          const carried: Record<string, string> = { ROLE: "Master", MASTER_VERSION: String(masterVersion), POOL_SPM_ID: String(p.hostID), POOL_SPM_LVER: String(p.spm.lver) };
          for (const k of ["POOL_DESCRIPTION", "POOL_DOMAINS", "LOCKPOLICY", "LOCKRENEWALINTERVALSEC", "LEASETIMESEC", "IOOPTIMEOUTSEC", "LEASERETRIES"]) {
            if (omd[k] !== undefined) carried[k] = omd[k];
          }
          try {
            await p.spm.moveMaster(nu, {
              seal: async () => {
                await nu.update(carried);
                d.ctx.fault("switchMaster.afterNewMaster");
              },
              retire: async () => {
                await old.update(demotion(true, spUUID));
                await rm(old.masterDir(), { recursive: true, force: true });
              },
              rejoin: async () => {
                await d.pools.remaster(p, newMasterUUID, masterVersion);
                // New task records go to the new master's tasks directory.
                d.tasks.sink = new TaskStore(join(nu.masterDir(), "tasks"));
              },
            });
          } catch (err) {
            // Nothing sealed yet: the copy on the new domain is not a master, remove it.
            if ((await nu.metadata({ fresh: true })).ROLE !== "Master") await rm(nu.masterDir(), { recursive: true, force: true }).catch(() => {});
            throw err;
          }
          log.info({ spUUID, from: oldMasterUUID, to: newMasterUUID, masterVersion, lver: p.spm.lver }, "master domain switched; still SPM");
        },
        false,
      );
      return { uuid: id };
    },

    reconstructMaster: async (a) => {
      const existing = d.pools.find(a.spUUID);
      if (existing && existing.spm.role !== "Free") throw new VdsmError("IsSpm", a.spUUID);
      if (!(a.masterDom in a.domDict)) throw new VdsmError("InvalidParameter", `masterDom ${a.masterDom} is not in domDict`);
      checkLeaseTimes(a.leaseTimeSec, a.lockRenewalIntervalSec);
      const msd = await d.domains.getFile(a.masterDom);
      const mmd = await msd.metadata({ fresh: true });
      if (mmd.CLASS !== "Data") throw new VdsmError("StorageDomainClassError", `${a.masterDom} is ${mmd.CLASS}`);
      if (!poolsOf(mmd).includes(a.spUUID)) throw new VdsmError("StorageDomainNotInPool", `${a.masterDom} is not in ${a.spUUID}`);
      // Every reachable member: it must belong to the pool; a surviving master must be older.
      const members: StorageDomain[] = [];
      let lver = -1;
      for (const sd of Object.keys(a.domDict)) {
        const dom = await d.domains.findFile(sd);
        if (!dom) continue; // unreachable: listed in POOL_DOMAINS, fixed when it comes back
        const md = await dom.metadata({ fresh: true });
        if (!poolsOf(md).includes(a.spUUID)) throw new VdsmError("StorageDomainNotInPool", `${sd} is not in ${a.spUUID}`);
        if (md.ROLE === "Master" && Number(md.MASTER_VERSION) >= a.masterVersion) {
          throw new VdsmError("StoragePoolWrongMaster", `${sd} is master version ${md.MASTER_VERSION} ≥ ${a.masterVersion}`);
        }
        if (md.ROLE === "Master") lver = Math.max(lver, Number(md.POOL_SPM_LVER ?? -1));
        members.push(dom);
      }
      if (existing) await d.pools.disconnect(a.spUUID, existing.hostID);
      // Hold the new master's SPM lease while rewriting, as createStoragePool does.
      const params = leaseParamsOf({ LEASETIMESEC: String(a.leaseTimeSec), LOCKRENEWALINTERVALSEC: String(a.lockRenewalIntervalSec) }, msd.leasesPath());
      const lease = await d.lock.acquire(params, `rec-${d.ctx.config.hostUuid.slice(0, 8)}`);
      try {
        const status = new Map(Object.entries(a.domDict).map(([sd, st]) => [sd, st === "active" ? "Active" : "Attached"]));
        status.set(a.masterDom, "Active");
        // LVER goes on from what a surviving old master says, so its SPM's writes stay stale.
        await writeMaster(msd, a, status, lver);
        for (const dom of members) {
          if (dom.sdUUID === a.masterDom) continue;
          if ((await dom.metadata({ fresh: true })).ROLE === "Master") await dom.update(demotion(true, a.spUUID));
        }
      } finally {
        await lease.release();
      }
      log.info({ spUUID: a.spUUID, master: a.masterDom, masterVersion: a.masterVersion }, "pool master reconstructed");
      return {};
    },

    destroyStoragePool: async ({ spUUID, hostID }) => {
      const p = d.spmOf(spUUID);
      if (p.hostID !== hostID) throw new VdsmError("InvalidParameter", `host id ${hostID} is not this host's (${p.hostID})`);
      const busy = d.tasks.running();
      if (busy.length) throw new VdsmError("TaskInProgress", `tasks still running: ${busy.map((t) => t.id).join(",")}`);
      const master = await d.domains.get(p.masterSdUUID);
      const members = parsePoolDomains((await master.metadata({ fresh: true })).POOL_DOMAINS);
      for (const sd of members.keys()) {
        if (sd === master.sdUUID) continue;
        const dom = await d.domains.find(sd);
        if (!dom) continue;
        const left = poolsOf(await dom.metadata({ fresh: true })).filter((x) => x !== spUUID);
        await dom.update({ POOL_UUID: left.join(",") });
      }
      await rm(master.masterDir(), { recursive: true, force: true });
      // Last write as SPM: after it the domain is a plain one and the lease on it means nothing.
      await master.update(demotion(false, spUUID));
      await p.spm.handOver();
      await d.pools.disconnect(spUUID, p.hostID);
      log.info({ spUUID }, "storage pool destroyed");
      return {};
    },
  };
}
