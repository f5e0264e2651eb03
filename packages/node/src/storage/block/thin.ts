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
import type { LvRange } from "./datapath.js";
import { MiB } from "./lvm.js";
import { chunkBytes } from "./volume.js";

type Drive = Parameters<ImageService["prepare"]>[0];

/** The image service with the thin-volume operations added. */
export function thinImages(base: ImageService, log: Logger, domains: DomainRegistry, pools: Pools, clusters: Clusters): ImageService {
  /** Each thin volume's place on its PV as this host last mapped it (LVs never move; they only grow). */
  const ranges = new Map<string, LvRange>();
  async function thinDomain(d: Drive): Promise<BlockDomain | undefined> {
    const dom = await domains.find(d.domainID);
    return dom instanceof BlockDomain ? dom : undefined;
  }
  return {
    prepare: (d) => base.prepare(d),
    teardown: (d) => base.teardown(d),
    isoPath: (sd, file) => base.isoPath(sd, file),
    checkLiveMerge: base.checkLiveMerge?.bind(base),
    syncMergedChain: base.syncMergedChain?.bind(base),

    async allocation(d): Promise<ThinAllocation | undefined> {
      const dom = await thinDomain(d);
      if (!dom) return undefined;
      const md = await dom.readVolumeMeta(d.imageID, d.volumeID);
      if (md.FORMAT !== "COW" || md.TYPE !== "SPARSE") return undefined;
      return { allocated: await dom.volumeAreaSize(d.imageID, d.volumeID), capacity: md.CAP, chunk: chunkBytes() };
    },

    async refresh(d): Promise<void> {
      const dom = await thinDomain(d);
      if (!dom) return;
      const r = await dom.range(d.volumeID);
      await dom.env.dataPath.refresh(dom.sdUUID, d.volumeID, r);
      ranges.set(`${dom.sdUUID}/${d.volumeID}`, r);
    },

    async extend(d, bytes): Promise<number> {
      const dom = await thinDomain(d);
      if (!dom) throw new VdsmError("VolumeExtendingError", `${d.volumeID} is not a thin block volume`);
      const mib = Math.ceil(bytes / MiB);
      const pool = pools.find(d.poolID);
      const t0 = performance.now();
      const key = `${dom.sdUUID}/${d.volumeID}`;
      let r0 = ranges.get(key);
      if (!r0) {
        r0 = await dom.range(d.volumeID);
        ranges.set(key, r0);
      }
      const tAsk = performance.now();
      const local = pool?.spm.role === "SPM";
      let granted: number;
      if (local) {
        // The SPM itself: no mailbox; extendThin refreshes this host's device too.
        granted = await extendBlockVolume(dom, d.volumeID, mib);
      } else {
        const c = clusters.find(d.poolID);
        if (!c) throw new VdsmError("StoragePoolNotConnected", d.poolID);
        const r = await c.mailbox.send({ op: "xtnd", domainID: d.domainID, volumeID: d.volumeID, sizeMiB: mib }, 120_000);
        if (r.reply.op !== "xtnd" || r.reply.sizeMiB === 0) throw new VdsmError("VolumeExtendingError", `the SPM refused to extend ${d.volumeID} to ${mib} MiB (${await whyNoRoom(dom, d.volumeID)})`);
        granted = r.reply.sizeMiB;
      }
      const tGranted = performance.now();
      // The LV grew in place by whole extents (one segment, same first extent): its new range is
      // known without asking lvm; the refresh never shrinks a mapping (a late, smaller grant).
      const r = { ...r0, count: Math.max(r0.count, Math.ceil((granted * MiB) / r0.extentSize)) };
      if (!local) await dom.env.dataPath.refresh(dom.sdUUID, d.volumeID, r);
      ranges.set(key, r);
      const size = r.count * r.extentSize;
      const now = performance.now();
      const ms = (a: number, b: number) => Number((b - a).toFixed(1));
      log.info(
        { sdUUID: d.domainID, volUUID: d.volumeID, askedMiB: mib, grantedMiB: granted, size, ms: ms(t0, now), lookupMs: ms(t0, tAsk), grantMs: ms(tAsk, tGranted), refreshMs: ms(tGranted, now), spm: local, via: local ? "local" : "mailbox" },
        "thin volume extended",
      );
      return size;
    },
  };
}

/**
 * The likely reason an extension was refused, read from the LVM metadata this host sees (the
 * mailbox reply carries no reason, only a size of 0): a full VG, or extents after the LV that
 * belong to another LV (a data path without device-mapper cannot map a second segment).
 */
async function whyNoRoom(dom: BlockDomain, volUUID: string): Promise<string> {
  try {
    const snap = await dom.snapshot();
    const { vg, lvs } = snap;
    if (vg.freeCount === 0) return `VolumeGroupSizeError: the VG ${dom.sdUUID} has no free extents`;
    const r = await dom.range(volUUID, snap);
    const next = r.first + r.count;
    const blocker = lvs.find((l) => l.name !== volUUID && l.segments.some((sg) => sg.first === next));
    if (blocker) return `LogicalVolumeExtendError: the LV cannot grow in place, extent ${next} holds ${blocker.name}; the VG has ${vg.freeCount} free extents`;
    return `the VG has ${vg.freeCount} free extents; see the SPM's log`;
  } catch (err) {
    return `reason unknown: ${(err as Error).message}`;
  }
}
