/**
 * Thin block volumes as the VMs of this host see them (virt/thin.ts drives this): how much of a
 * thin (COW SPARSE) volume's LV is allocated, and growing it by a chunk — locally when this host
 * is the pool's SPM (lvextend, then the device is refreshed), through the SPM mailbox otherwise
 * (`xtnd`; the SPM extends, this host refreshes its own device of the LV). File volumes and
 * preallocated volumes are never thin here: their answers are `undefined`.
 */
import { VdsmError } from "@vela/protocol";
import type { ImageService, ThinAllocation } from "../../api/services.js";
import type { Logger } from "../../log.js";
import { BlockDomain } from "../domain/block.js";
import type { DomainRegistry } from "../domain/index.js";
import { extendBlockVolume } from "../mailbox/pool-mailbox.js";
import type { Clusters } from "../pool/cluster.js";
import type { Pools } from "../pool/pool.js";
import { MiB } from "./lvm.js";
import { chunkBytes } from "./volume.js";

type Drive = Parameters<ImageService["prepare"]>[0];

/** The image service with the thin-volume operations added. */
export function thinImages(base: ImageService, log: Logger, domains: DomainRegistry, pools: Pools, clusters: Clusters): ImageService {
  async function thinDomain(d: Drive): Promise<BlockDomain | undefined> {
    const dom = await domains.find(d.domainID);
    return dom instanceof BlockDomain ? dom : undefined;
  }
  return {
    prepare: (d) => base.prepare(d),
    teardown: (d) => base.teardown(d),
    isoPath: (sd, file) => base.isoPath(sd, file),

    async allocation(d): Promise<ThinAllocation | undefined> {
      const dom = await thinDomain(d);
      if (!dom) return undefined;
      const md = await dom.readVolumeMeta(d.imageID, d.volumeID);
      if (md.FORMAT !== "COW" || md.TYPE !== "SPARSE") return undefined;
      return { allocated: await dom.volumeAreaSize(d.imageID, d.volumeID), capacity: md.CAP, chunk: chunkBytes() };
    },

    async extend(d, bytes): Promise<number> {
      const dom = await thinDomain(d);
      if (!dom) throw new VdsmError("VolumeExtendingError", `${d.volumeID} is not a thin block volume`);
      const mib = Math.ceil(bytes / MiB);
      const pool = pools.find(d.poolID);
      const t0 = performance.now();
      if (pool?.spm.role === "SPM") {
        // The SPM itself: no mailbox; extendVolumeArea refreshes this host's device too.
        await extendBlockVolume(dom, d.volumeID, mib);
      } else {
        const c = clusters.find(d.poolID);
        if (!c) throw new VdsmError("StoragePoolNotConnected", d.poolID);
        const r = await c.mailbox.send({ op: "xtnd", domainID: d.domainID, volumeID: d.volumeID, sizeMiB: mib }, 120_000);
        if (r.reply.op !== "xtnd" || r.reply.sizeMiB === 0) throw new VdsmError("VolumeExtendingError", `the SPM refused to extend ${d.volumeID} to ${mib} MiB`);
        await dom.env.dataPath.refresh(dom.sdUUID, d.volumeID, await dom.range(d.volumeID));
      }
      const size = await dom.volumeAreaSize(d.imageID, d.volumeID);
      log.info({ sdUUID: d.domainID, volUUID: d.volumeID, askedMiB: mib, size, ms: Math.round(performance.now() - t0), spm: pool?.spm.role === "SPM" }, "thin volume extended");
      return size;
    },
  };
}
