/**
 * Image verbs: prepare and tear down an image for use on this host, delete, copy and move an image
 * (with its chain), and merge a snapshot into its parent; the recovery actions of their tasks.
 * Validates against the storage synchronously before a task starts (bad input changes nothing);
 * metadata changes only on the SPM, as persisted tasks, under the image lock.
 */
import { BLANK_UUID, VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../../api/handlers.js";
import type { StorageDeps } from "../deps.js";
import * as ops from "./ops.js";
import { teardownBlockImage } from "../block/image.js";
import { deleteBlockImageJob } from "../block/volume.js";
import { BlockDomain } from "../domain/block.js";
import { asFile } from "../domain/index.js";
import * as vol from "../volume/volume.js";

/** Recovery actions of these operations (names are persisted: never rename one). */
function registerRecoveries(d: StorageDeps): void {
  const log = d.ctx.log;
  d.tasks.register("image.purge", async ([sd, img]) => ops.purgeRemoved(await d.domains.getFile(sd), img));
  d.tasks.register("volume.finishExtend", async ([sd, img, v, cap, live]) => ops.finishExtend(log, await d.domains.get(sd), img, v, Number(cap), live === "live"));
  d.tasks.register("merge.finish", async ([sd, img, base, top]) => ops.finishMerge(log, await d.domains.get(sd), img, base, top));
}

export function imageVerbs(d: StorageDeps): PartialHandlers {
  registerRecoveries(d);
  const log = d.ctx.log;
  const fault = (pt: string) => d.ctx.fault(pt);

  return {
    prepareImage: async ({ sdUUID, spUUID, imgUUID, leafUUID, allowIllegal }) => {
      const r = await d.withImageLock(sdUUID, imgUUID, "shared", () => d.images.prepareVerb(sdUUID, spUUID, imgUUID, leafUUID, allowIllegal));
      return { path: r.path, info: r.info, imgVolumesInfo: r.imgVolumesInfo };
    },
    teardownImage: async ({ sdUUID, imgUUID, volUUID }) => {
      const dom = await d.domains.get(sdUUID);
      // Block volumes free their devices; file volumes have none.
      if (dom instanceof BlockDomain && volUUID) await d.withImageLock(sdUUID, imgUUID, "shared", () => teardownBlockImage(dom, imgUUID, volUUID));
      return {};
    },

    deleteImage: async ({ sdUUID, spUUID, imgUUID, force }) => {
      d.spmOf(spUUID);
      const { dom: domain } = await d.poolAnyDomain(sdUUID, spUUID);
      if (domain instanceof BlockDomain) {
        if (!(await domain.hasImage(imgUUID))) throw new VdsmError("ImageDoesNotExistInSD", `${imgUUID} in ${sdUUID}`);
        return { uuid: d.startTask("deleteImage", (t) => d.withImageLock(sdUUID, imgUUID, "exclusive", () => (d.spmOf(spUUID), deleteBlockImageJob(t, domain, imgUUID)))) };
      }
      const dom = asFile(domain);
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

    copyImage: async (a) => {
      d.spmOf(a.spUUID);
      const { dom: src } = await d.poolAnyDomain(a.sdUUID, a.spUUID);
      const dstSd = a.dstSdUUID === BLANK_UUID ? a.sdUUID : a.dstSdUUID;
      const { dom: dst, md: dstMd } = await d.poolAnyDomain(dstSd, a.spUUID);
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
      ops.checkBlockTarget(dst, { FORMAT: spec.format, TYPE: spec.type }, `copy of ${a.srcVolUUID}`);
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
      const { dom: src } = await d.poolAnyDomain(srcDomUUID, spUUID);
      const { dom: dst } = await d.poolAnyDomain(dstDomUUID, spUUID);
      if (!(await src.hasImage(imgUUID))) throw new VdsmError("ImageDoesNotExistInSD", `${imgUUID} in ${srcDomUUID}`);
      if ((await dst.hasImage(imgUUID)) && !force) throw new VdsmError("MoveImageError", `${imgUUID} already exists on ${dstDomUUID}`);
      const users = op === 2 ? await ops.templateUsers(src, imgUUID) : [];
      if (users.length) throw new VdsmError("MoveImageError", `template image ${imgUUID} is used by ${users.join(",")}`);
      // What the destination cannot hold is refused now, not half-way through the copy.
      for (const [v, md] of await vol.imageVolumes(src, imgUUID)) ops.checkBlockTarget(dst, md, `volume ${v}`);
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
      const { dom } = await d.poolAnyDomain(sdUUID, spUUID);
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

  };
}
