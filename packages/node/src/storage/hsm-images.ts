/**
 * Handlers of the second round of storage verbs (images, volume attributes, domain membership),
 * kept apart from hsm.ts so each file stays readable. Same rules: validate synchronously before a
 * task starts (bad input changes nothing), metadata changes only on the SPM, as persisted tasks.
 */
import { BLANK_UUID, VdsmError } from "@vela/protocol";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { NodeContext } from "../api/context.js";
import type { PartialHandlers } from "../api/handlers.js";
import { BlockDomain } from "./domain/block.js";
import { asFile, type DomainRegistry, type FileDomain, type StorageDomain } from "./domain/index.js";
import { formatPoolDomains, parsePoolDomains, poolsOf } from "./domain/file.js";
import * as ops from "./image-ops.js";
import type { ConnectedPool, Pools } from "./pool.js";
import type { TaskManager } from "./task/manager.js";
import type { Task } from "./task/task.js";
import * as vol from "./volume.js";

export interface HsmDeps {
  ctx: NodeContext;
  domains: DomainRegistry;
  pools: Pools;
  tasks: TaskManager;
  spmOf(spUUID: string): ConnectedPool;
  poolDomain(sdUUID: string, spUUID: string): Promise<{ dom: FileDomain; md: Record<string, string> }>;
  startTask(name: string, job: (t: Task) => Promise<unknown>, persistent?: boolean): string;
  withImageLock<T>(sd: string, img: string, mode: "shared" | "exclusive", fn: () => Promise<T>): Promise<T>;
}

/** Recovery actions of these operations (names are persisted: never rename one). */
export function registerRecoveries(d: Pick<HsmDeps, "ctx" | "domains" | "tasks">): void {
  const log = d.ctx.log;
  d.tasks.register("image.purge", async ([sd, img]) => ops.purgeRemoved(await d.domains.getFile(sd), img));
  d.tasks.register("volume.finishExtend", async ([sd, img, v, cap]) => ops.finishExtend(log, await d.domains.getFile(sd), img, v, Number(cap)));
  d.tasks.register("merge.finish", async ([sd, img, base, top]) => ops.finishMerge(log, await d.domains.getFile(sd), img, base, top));
}

export function imageHandlers(d: HsmDeps): PartialHandlers {
  const log = d.ctx.log;
  const fault = (pt: string) => d.ctx.fault(pt);

  /** The master domain of a pool this host is SPM of. */
  async function masterOf(p: ConnectedPool): Promise<StorageDomain> {
    return d.pools.master(p);
  }

  return {
    deleteImage: async ({ sdUUID, spUUID, imgUUID, force }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolDomain(sdUUID, spUUID);
      if (!(await dom.hasImage(imgUUID))) throw new VdsmError("ImageDoesNotExistInSD", `${imgUUID} in ${sdUUID}`);
      const users = await ops.templateUsers(dom, imgUUID);
      if (users.length && !force) throw new VdsmError("ImageDeleteError", `template image ${imgUUID} is used by ${users.join(",")}`);
      return {
        uuid: d.startTask("deleteImage", (t) =>
          d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
            d.spmOf(spUUID);
            await ops.deleteImageJob(t, dom, imgUUID, fault);
          }),
        ),
      };
    },

    extendVolumeSize: async ({ spUUID, sdUUID, imgUUID, volUUID, newSize }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolDomain(sdUUID, spUUID);
      const md = await vol.readMeta(dom, imgUUID, volUUID);
      if (md.VOLTYPE !== "LEAF") throw new VdsmError("VolumeNonWritable", `${volUUID} is ${md.VOLTYPE}`);
      const cap = vol.roundUp(newSize, 4096);
      if (cap < md.CAP) throw new VdsmError("VolumeResizeValueError", `${newSize} < current capacity ${md.CAP}`);
      return {
        uuid: d.startTask("extendVolumeSize", (t) =>
          d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
            d.spmOf(spUUID);
            await ops.extendJob(log, t, dom, imgUUID, volUUID, cap, fault);
          }),
        ),
      };
    },

    setVolumeDescription: async ({ sdUUID, spUUID, imgUUID, volUUID, description }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolDomain(sdUUID, spUUID);
      await d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
        await vol.updateMeta(dom, imgUUID, volUUID, { DESCRIPTION: description });
      });
      return {};
    },

    setVolumeLegality: async ({ sdUUID, spUUID, imgUUID, volUUID, legality }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolDomain(sdUUID, spUUID);
      await d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
        await vol.updateMeta(dom, imgUUID, volUUID, { LEGALITY: legality });
      });
      return {};
    },

    copyImage: async (a) => {
      d.spmOf(a.spUUID);
      const { dom: src } = await d.poolDomain(a.sdUUID, a.spUUID);
      const dstSd = a.dstSdUUID === BLANK_UUID ? a.sdUUID : a.dstSdUUID;
      const { dom: dst, md: dstMd } = await d.poolDomain(dstSd, a.spUUID);
      if (dstMd.CLASS !== "Data") throw new VdsmError("StorageDomainClassError", `${dstSd} is ${dstMd.CLASS}`);
      const chain = await vol.chainOf(src, a.srcImgUUID, a.srcVolUUID);
      const leaf = chain[0].md;
      for (const { vol: v, md } of chain) if (md.LEGALITY !== "LEGAL") throw new VdsmError("ImageIsNotLegalChain", `${v} is ${md.LEGALITY}`);
      if (dstSd === a.sdUUID && a.dstImgUUID === a.srcImgUUID) throw new VdsmError("InvalidParameter", "copyImage into its own source image");
      if (await vol.readMeta(dst, a.dstImgUUID, a.dstVolUUID).catch(() => undefined)) throw new VdsmError("VolumeAlreadyExists", a.dstVolUUID);
      const spec: ops.CopySpec = {
        src,
        srcImg: a.srcImgUUID,
        srcVol: a.srcVolUUID,
        dst,
        dstImg: a.dstImgUUID,
        dstVol: a.dstVolUUID,
        desc: a.description,
        voltype: a.volType === "SHARED" ? "SHARED" : "LEAF",
        format: a.volFormat === "SAME" ? leaf.FORMAT : a.volFormat,
        type: a.preallocate === "SAME" ? leaf.TYPE : a.preallocate,
        capacity: leaf.CAP,
        diskType: leaf.DISKTYPE,
      };
      return {
        uuid: d.startTask("copyImage", (t) =>
          d.withImageLock(a.sdUUID, a.srcImgUUID, "shared", () =>
            d.withImageLock(dstSd, a.dstImgUUID, "exclusive", async () => {
              d.spmOf(a.spUUID);
              await ops.copyJob(log, t, spec, fault);
            }),
          ),
        ),
      };
    },

    moveImage: async ({ spUUID, srcDomUUID, dstDomUUID, imgUUID, op, force }) => {
      d.spmOf(spUUID);
      if (srcDomUUID === dstDomUUID) throw new VdsmError("InvalidParameter", "source and destination domains are the same");
      const { dom: src } = await d.poolDomain(srcDomUUID, spUUID);
      const { dom: dst } = await d.poolDomain(dstDomUUID, spUUID);
      if (!(await src.hasImage(imgUUID))) throw new VdsmError("ImageDoesNotExistInSD", `${imgUUID} in ${srcDomUUID}`);
      if ((await dst.hasImage(imgUUID)) && !force) throw new VdsmError("MoveImageError", `${imgUUID} already exists on ${dstDomUUID}`);
      const users = op === 2 ? await ops.templateUsers(src, imgUUID) : [];
      if (users.length) throw new VdsmError("MoveImageError", `template image ${imgUUID} is used by ${users.join(",")}`);
      return {
        uuid: d.startTask(op === 2 ? "moveImage" : "copyImageToDomain", (t) =>
          d.withImageLock(srcDomUUID, imgUUID, op === 2 ? "exclusive" : "shared", () =>
            d.withImageLock(dstDomUUID, imgUUID, "exclusive", async () => {
              d.spmOf(spUUID);
              await ops.copyChainJob(log, t, src, dst, imgUUID, fault);
              if (op === 2) {
                // The copy is complete and LEGAL: from here on the source delete rolls forward.
                t.recoveries = [];
                await ops.deleteImageJob(t, src, imgUUID, fault);
              }
            }),
          ),
        ),
      };
    },

    mergeSnapshots: async ({ sdUUID, spUUID, imgUUID, ancestor, successor }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolDomain(sdUUID, spUUID);
      const vols = await vol.imageVolumes(dom, imgUUID);
      const base = vols.get(ancestor);
      const top = vols.get(successor);
      if (!base) throw new VdsmError("VolumeDoesNotExist", ancestor);
      if (!top) throw new VdsmError("VolumeDoesNotExist", successor);
      if (top.PUUID !== ancestor) throw new VdsmError("MergeSnapshotsError", `${successor} is not a child of ${ancestor}`);
      if (base.VOLTYPE !== "INTERNAL" || base.IMAGE !== imgUUID) throw new VdsmError("MergeSnapshotsError", `${ancestor} is ${base.VOLTYPE} of image ${base.IMAGE}`);
      if (base.LEGALITY !== "LEGAL" || top.LEGALITY !== "LEGAL") throw new VdsmError("ImageIsNotLegalChain", imgUUID);
      // A branch point (a snapshot being previewed): committing top into base would change what
      // base's other children read. Merge once the branch is gone (commit or undo of the preview).
      const others = vol.childrenOf(vols, ancestor).filter((c) => c !== successor);
      if (others.length) throw new VdsmError("MergeSnapshotsError", `${ancestor} has other children (${others.join(",")}): the image has a branch there`);
      return {
        uuid: d.startTask("mergeSnapshots", (t) =>
          d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
            d.spmOf(spUUID);
            await ops.mergeJob(log, t, dom, imgUUID, ancestor, successor, fault);
          }),
        ),
      };
    },

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

    formatStorageDomain: async ({ sdUUID, autoDetach }) => {
      const any = await d.domains.get(sdUUID);
      const md = await any.metadata({ fresh: true });
      const pools = poolsOf(md);
      for (const p of d.pools.all()) if (pools.includes(p.spUUID)) throw new VdsmError("CannotFormatAttachedStorageDomain", `${sdUUID} is in connected pool ${p.spUUID}`);
      if (pools.length && !autoDetach) throw new VdsmError("CannotFormatAttachedStorageDomain", `${sdUUID} is in ${pools.join(",")}`);
      if (any instanceof BlockDomain) {
        await any.format();
        d.domains.forget(sdUUID);
        return {};
      }
      const dom = asFile(any);
      // Rename first: a half-removed tree must never look like a domain.
      const trash = join(dom.mountPoint, `_remove_me_${sdUUID}`);
      await rename(dom.dir, trash);
      d.domains.forget(sdUUID);
      await rm(trash, { recursive: true, force: true });
      return {};
    },
  };
}
