/**
 * Pool verbs: create a pool on its master domain, connect this host to it and disconnect, its info,
 * and domain membership (attach, activate, deactivate, detach: the master's POOL_DOMAINS and the
 * member's POOL_UUID). Membership changes pool metadata, so only the SPM makes them. The verbs that
 * move or remove the master role are in master-verbs.ts.
 */
import { VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../../api/handlers.js";
import type { StorageDeps } from "../deps.js";
import { formatPoolDomains, parsePoolDomains, poolsOf } from "../domain/file.js";
import type { StorageDomain } from "../domain/index.js";
import type { ConnectedPool } from "./pool.js";

export function poolVerbs(d: StorageDeps): PartialHandlers {
  const { pools } = d;

  /** The master domain of a pool this host is SPM of. */
  async function masterOf(p: ConnectedPool): Promise<StorageDomain> {
    return d.pools.master(p);
  }

  return {
    createStoragePool: async (a) => {
      await pools.create({
        spUUID: a.spUUID,
        poolName: a.poolName,
        masterDom: a.masterDom,
        domList: a.domList,
        masterVersion: a.masterVersion,
        lockPolicy: a.lockPolicy,
        lockRenewalIntervalSec: a.lockRenewalIntervalSec,
        leaseTimeSec: a.leaseTimeSec,
        ioOpTimeoutSec: a.ioOpTimeoutSec,
        leaseRetries: a.leaseRetries,
      });
      return {};
    },
    connectStoragePool: async ({ spUUID, hostID, msdUUID, masterVersion }) => {
      await pools.connect(spUUID, hostID, msdUUID, masterVersion);
      const p = pools.get(spUUID);
      d.connected(p);
      return {};
    },
    disconnectStoragePool: async ({ spUUID, hostID }) => {
      await pools.disconnect(spUUID, hostID);
      return {};
    },
    getStoragePoolInfo: async ({ spUUID }) => pools.info(spUUID),

    attachStorageDomain: async ({ sdUUID, spUUID }) => {
      const p = d.spmOf(spUUID);
      const dom = await d.domains.get(sdUUID);
      const md = await dom.metadata({ fresh: true });
      const master = await masterOf(p);
      const mmd = await master.metadata({ fresh: true });
      const members = parsePoolDomains(mmd.POOL_DOMAINS);
      if (members.has(sdUUID)) return {};
      if (poolsOf(md).length) throw new VdsmError("StorageDomainAlreadyAttached", `${sdUUID} is in ${poolsOf(md).join(",")}`);
      if (md.CLASS === "Data" && md.VERSION !== mmd.VERSION) throw new VdsmError("MixedSDVersionError", `${sdUUID} v${md.VERSION}`);
      // A local pool lives on one host: it cannot take shared data storage, nor a shared pool local
      // data storage (ISO and export domains may be shared with local pools, as in oVirt).
      if (md.CLASS === "Data" && (md.TYPE === "LOCALFS") !== (mmd.TYPE === "LOCALFS")) {
        throw new VdsmError("StorageDomainTypeError", `${sdUUID} is ${md.TYPE}; pool ${spUUID} is ${mmd.TYPE}`);
      }
      await dom.update({ POOL_UUID: spUUID });
      members.set(sdUUID, "Attached");
      await master.update({ POOL_DOMAINS: formatPoolDomains(members) });
      await d.pools.buildLinks(p);
      return {};
    },

    activateStorageDomain: async ({ sdUUID, spUUID }) => {
      const p = d.spmOf(spUUID);
      const master = await masterOf(p);
      const members = parsePoolDomains((await master.metadata({ fresh: true })).POOL_DOMAINS);
      if (!members.has(sdUUID)) throw new VdsmError("StorageDomainNotMemberOfPool", `${sdUUID} in ${spUUID}`);
      await d.domains.get(sdUUID);
      if (members.get(sdUUID) !== "Active") {
        members.set(sdUUID, "Active");
        await master.update({ POOL_DOMAINS: formatPoolDomains(members) });
      }
      await d.pools.buildLinks(p);
      return {};
    },

    deactivateStorageDomain: async ({ sdUUID, spUUID }) => {
      const p = d.spmOf(spUUID);
      if (sdUUID === p.masterSdUUID) throw new VdsmError("StorageDomainMasterError", `${sdUUID} is the master; move the master role first`);
      const master = await masterOf(p);
      const members = parsePoolDomains((await master.metadata({ fresh: true })).POOL_DOMAINS);
      if (!members.has(sdUUID)) throw new VdsmError("StorageDomainNotMemberOfPool", `${sdUUID} in ${spUUID}`);
      if (members.get(sdUUID) !== "Attached") {
        members.set(sdUUID, "Attached");
        await master.update({ POOL_DOMAINS: formatPoolDomains(members) });
      }
      return {};
    },

    detachStorageDomain: async ({ sdUUID, spUUID, force }) => {
      const p = d.spmOf(spUUID);
      if (sdUUID === p.masterSdUUID) throw new VdsmError("CannotDetachMasterStorageDomain", sdUUID);
      const master = await masterOf(p);
      const members = parsePoolDomains((await master.metadata({ fresh: true })).POOL_DOMAINS);
      if (!members.has(sdUUID)) throw new VdsmError("StorageDomainNotMemberOfPool", `${sdUUID} in ${spUUID}`);
      if (members.get(sdUUID) === "Active" && !force) throw new VdsmError("StorageDomainStateTransitionIllegal", `${sdUUID} is Active: deactivate it first`);
      const dom = await d.domains.find(sdUUID);
      if (dom) {
        const left = poolsOf(await dom.metadata({ fresh: true })).filter((x) => x !== spUUID);
        await dom.update({ POOL_UUID: left.join(",") });
      }
      members.delete(sdUUID);
      await master.update({ POOL_DOMAINS: formatPoolDomains(members) });
      await d.pools.buildLinks(p);
      return {};
    },
  };
}
