/**
 * Volume verbs: create (with idempotent retries by target volume), delete, extend, set description
 * and legality, info, size and lists, and the recovery actions of their tasks (persisted by name:
 * never rename one). Validates against the storage synchronously before a task starts, so bad
 * input changes nothing; metadata changes only on the SPM, as tasks, under the image lock.
 */
import { BLANK_UUID, initialSizeProblem, VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../../api/handlers.js";
import type { StorageDeps } from "../deps.js";
import { asFile, FileDomain } from "../domain/index.js";
import { BlockDomain } from "../domain/block.js";
import { blockVolumeInfo, checkBlockCreate, createBlockVolumeJob, deleteBlockVolumesJob } from "../block/volume.js";
import * as ops from "../image/ops.js";
import type { VolumeMd } from "../metadata.js";
import * as vol from "./volume.js";

export interface VolumeVerbs {
  handlers: PartialHandlers;
  /** clearTask's hook: a cleared task no longer answers a retried createVolume. */
  forgetTask(taskId: string): void;
}

/** Recovery actions of the volume tasks (names are persisted: never rename one). */
function registerRecoveries(d: StorageDeps): void {
  const { domains, tasks } = d;
  tasks.register("volume.removeFiles", async ([sd, img, v]) => vol.removeVolumeFiles(await domains.getFile(sd), img, v));
  tasks.register("block.removeVolume", async ([sd, img, v]) => (await domains.get(sd)).removeVolumeArea(img, v));
  tasks.register("image.rmdirIfEmpty", async ([sd, img]) => vol.rmdirIfEmpty((await domains.getFile(sd)).imageDir(img)));
  tasks.register("volume.setVolType", async ([sd, img, v, t]) => {
    await vol.updateMeta(await domains.get(sd), img, v, { VOLTYPE: t as "LEAF" | "INTERNAL" | "SHARED" });
  });
  // deleteVolume's step for a new SPM: once the child is gone, its parent is the leaf again.
  tasks.register("volume.leafIfChildless", async ([sd, img, v]) => {
    const dom = await domains.get(sd);
    const rest = await vol.imageVolumes(dom, img).catch(() => new Map<string, VolumeMd>());
    const md = rest.get(v);
    if (md && md.VOLTYPE === "INTERNAL" && vol.childrenOf(rest, v).length === 0) await vol.writeMeta(dom, img, v, { ...md, VOLTYPE: "LEAF" });
  });
}

export function volumeVerbs(d: StorageDeps): VolumeVerbs {
  const { ctx, domains, tasks } = d;
  const log = ctx.log;
  const fault = (pt: string) => ctx.fault(pt);
  /** createVolume requests by target volume, for idempotent retries. */
  const creates = new Map<string, { taskId: string; sig: string }>();
  registerRecoveries(d);

  const handlers: PartialHandlers = {
    createVolume: async (a) => {
      d.spmOf(a.spUUID);
      const { dom, md } = await d.poolAnyDomain(a.sdUUID, a.spUUID);
      if (md.CLASS !== "Data") throw new VdsmError("StorageDomainClassError", `${a.sdUUID} is ${md.CLASS}`);
      if (a.size < 1) throw new VdsmError("createVolumeSizeError", String(a.size));
      const capacity = vol.roundUp(a.size, 4096);
      const format = a.volFormat as vol.VolFormat;
      const type = a.preallocate as vol.VolType;
      // The same rule the engine's input schema applies (protocol's volume-rules).
      const initialProblem = initialSizeProblem({ format, preallocate: type, initialSize: a.initialSize, capacity });
      if (initialProblem) throw new VdsmError("InvalidParameter", `initialSize ${a.initialSize}: ${initialProblem}`);
      let parent: vol.CreateSpec["parent"];
      if (a.srcVolUUID !== BLANK_UUID) {
        if (format !== "COW") throw new VdsmError("IncorrectFormat", "a volume with a parent must be COW");
        const srcImg = a.srcImgUUID === BLANK_UUID ? a.imgUUID : a.srcImgUUID;
        const pmd = await vol.readMeta(dom, srcImg, a.srcVolUUID);
        if (pmd.LEGALITY !== "LEGAL") throw new VdsmError("createIllegalVolumeSnapshotError", a.srcVolUUID);
        if (srcImg !== a.imgUUID && pmd.VOLTYPE !== "SHARED") throw new VdsmError("VolumeNonShareable", a.srcVolUUID);
        // In its own image the parent is the leaf (a snapshot: it becomes INTERNAL) or already
        // INTERNAL (a branch beside the current chain, as a snapshot preview needs; a retried
        // snapshot lands here too and is answered by the idempotency check below). A template's
        // SHARED volume never gets a child in its own image.
        if (srcImg === a.imgUUID && pmd.VOLTYPE === "SHARED") throw new VdsmError("ImageIsNotLegalChain", `${a.srcVolUUID} is a SHARED template volume of ${srcImg}`);
        if (srcImg === a.imgUUID && pmd.IMAGE !== a.imgUUID) throw new VdsmError("ImageIsNotLegalChain", `${a.srcVolUUID} belongs to image ${pmd.IMAGE}`);
        if (capacity < pmd.CAP) throw new VdsmError("InvalidParameter", `capacity ${capacity} < parent capacity ${pmd.CAP}`);
        parent = { img: srcImg, vol: a.srcVolUUID, md: pmd };
      } else if (a.srcImgUUID !== BLANK_UUID) {
        throw new VdsmError("InvalidParameter", "srcImgUUID given without srcVolUUID");
      }
      if (format === "RAW" && dom instanceof FileDomain) {
        // A raw file is the disk's full size: refuse sizes the file system cannot hold now,
        // rather than in the task (which left an illegal disk behind).
        const tooBig = await dom.fileSizeProblem(capacity);
        if (tooBig) throw new VdsmError("InvalidParameter", `size ${capacity}: ${tooBig}`);
      }
      if (dom instanceof BlockDomain) checkBlockCreate({ format, type, parent, img: a.imgUUID });
      if (type === "PREALLOCATED") {
        const sp = await dom.space();
        if (sp.free < capacity) throw new VdsmError("NoSpaceLeftOnDomain", `${a.sdUUID}: ${sp.free} bytes free, ${capacity} asked`);
      }

      // Idempotent retries: the same request for the same volume answers the same task.
      const key = `${a.sdUUID}/${a.imgUUID}/${a.volUUID}`;
      const sig = JSON.stringify([capacity, format, type, a.diskType, parent?.img, parent?.vol, a.desc]);
      const prior = creates.get(key);
      // A prior task fenced with a lost SPM term is not an answer: the next SPM resolved it on disk.
      if (prior && tasks.has(prior.taskId) && !tasks.get(prior.taskId).fenced) {
        const t = tasks.get(prior.taskId);
        if (prior.sig !== sig) throw new VdsmError("VolumeAlreadyExists", `${a.volUUID} (a different request created it)`);
        if (t.state !== "recovered" && t.state !== "failed") return { uuid: prior.taskId };
      } else {
        const onDisk = await vol.readMeta(dom, a.imgUUID, a.volUUID).catch(() => undefined);
        if (onDisk) {
          const same =
            onDisk.CAP === capacity && onDisk.FORMAT === format && onDisk.TYPE === type && onDisk.PUUID === (parent?.vol ?? BLANK_UUID);
          if (!same || onDisk.LEGALITY !== "LEGAL") throw new VdsmError("VolumeAlreadyExists", a.volUUID);
          const id = d.startTask("createVolume", async () => undefined, false);
          creates.set(key, { taskId: id, sig });
          return { uuid: id };
        }
      }
      const spec = { dom, img: a.imgUUID, vol: a.volUUID, capacity, format, type, diskType: a.diskType, desc: a.desc, parent };
      const id = d.startTask("createVolume", (t) =>
        d.withImageLock(a.sdUUID, a.imgUUID, "exclusive", async () => {
          d.spmOf(a.spUUID);
          if (dom instanceof BlockDomain) await createBlockVolumeJob(log, t, { ...spec, dom, initialSize: a.initialSize }, (pt) => ctx.fault(pt));
          else await vol.createVolumeJob(log, t, { ...spec, dom: asFile(dom) }, (pt) => ctx.fault(pt));
        }),
      );
      creates.set(key, { taskId: id, sig });
      return { uuid: id };
    },

    deleteVolume: async ({ sdUUID, spUUID, imgUUID, volumes, force }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolAnyDomain(sdUUID, spUUID);
      const all = await vol.imageVolumes(dom, imgUUID);
      const doomed = new Set(volumes);
      for (const v of volumes) {
        const md = all.get(v);
        if (!md) throw new VdsmError("VolumeDoesNotExist", `${v} in ${imgUUID}`);
        if (md.VOLTYPE === "SHARED" && md.IMAGE === imgUUID && !force) throw new VdsmError("CannotDeleteSharedVolume", v);
        const kids = vol.childrenOf(all, v).filter((c) => !doomed.has(c));
        if (kids.length && !force) throw new VdsmError("VolumeImageHasChildren", `${v} has ${kids.join(",")}`);
      }
      if (dom instanceof BlockDomain) {
        return { uuid: d.startTask("deleteVolume", (t) => d.withImageLock(sdUUID, imgUUID, "exclusive", () => deleteBlockVolumesJob(t, dom, imgUUID, volumes))) };
      }
      const file = asFile(dom);
      const id = d.startTask("deleteVolume", (t) =>
        d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
          for (const v of volumes) {
            d.spmOf(spUUID);
            const md = await vol.readMeta(dom, imgUUID, v).catch(() => undefined);
            if (!md) continue;
            // If this SPM dies between removing the child and fixing the parent, the next one
            // finishes the parent from the persisted stack (the client's retry finds no volume).
            if (md.PUUID !== BLANK_UUID && md.IMAGE === imgUUID) {
              await t.push({ what: "parent is the leaf again", action: "volume.leafIfChildless", params: [sdUUID, imgUUID, md.PUUID] });
            }
            // Roll-forward like deleteImage: once started, an interrupted delete is finished by
            // the next SPM (files first, then the parent step above), never left ILLEGAL.
            await t.push({ what: "finish removing the volume", action: "volume.removeFiles", params: [sdUUID, imgUUID, v] });
            // A template volume linked into this image only loses this image's names.
            if (md.IMAGE === imgUUID) await vol.writeMeta(dom, imgUUID, v, { ...md, LEGALITY: "ILLEGAL" });
            ctx.fault("deleteVolume.afterIllegal");
            await vol.removeVolumeFiles(file, imgUUID, v);
            const pv = md.PUUID;
            if (pv !== BLANK_UUID && md.IMAGE === imgUUID) {
              const rest = await vol.imageVolumes(dom, imgUUID);
              const pmd = rest.get(pv);
              if (pmd && pmd.VOLTYPE === "INTERNAL" && vol.childrenOf(rest, pv).length === 0) {
                await vol.writeMeta(dom, imgUUID, pv, { ...pmd, VOLTYPE: "LEAF" });
              }
            }
          }
        }),
      );
      return { uuid: id };
    },

    getVolumeInfo: async ({ sdUUID, imgUUID, volUUID }) => {
      const domain = await domains.get(sdUUID);
      return { info: domain instanceof BlockDomain ? await blockVolumeInfo(domain, imgUUID, volUUID) : await vol.volumeInfo(asFile(domain), imgUUID, volUUID) };
    },

    getVolumeSize: async ({ sdUUID, imgUUID, volUUID }) => {
      const domain = await domains.get(sdUUID);
      if (domain instanceof BlockDomain) {
        const size = String(await domain.volumeAreaSize(imgUUID, volUUID));
        return { apparentsize: size, truesize: size };
      }
      const dom = asFile(domain);
      await vol.readMeta(dom, imgUUID, volUUID);
      const sz = await vol.volumeSize(dom, imgUUID, volUUID);
      return { apparentsize: String(sz.apparentsize), truesize: String(sz.truesize) };
    },

    getVolumesList: async ({ sdUUID, imgUUID }) => {
      const dom = await domains.get(sdUUID);
      if (imgUUID !== BLANK_UUID) return { uuidlist: await dom.listVolumes(imgUUID) };
      const out = new Set<string>();
      for (const img of await dom.listImages()) for (const v of await dom.listVolumes(img)) out.add(v);
      return { uuidlist: [...out].sort() };
    },

    extendVolumeSize: async ({ spUUID, sdUUID, imgUUID, volUUID, newSize, live }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolAnyDomain(sdUUID, spUUID);
      const md = await vol.readMeta(dom, imgUUID, volUUID);
      if (md.VOLTYPE !== "LEAF") throw new VdsmError("VolumeNonWritable", `${volUUID} is ${md.VOLTYPE}`);
      const cap = vol.roundUp(newSize, 4096);
      if (cap < md.CAP) throw new VdsmError("VolumeResizeValueError", `${newSize} < current capacity ${md.CAP}`);
      return {
        uuid: d.startTask("extendVolumeSize", (t) =>
          d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
            d.spmOf(spUUID);
            await ops.extendJob(log, t, dom, imgUUID, volUUID, cap, fault, live);
          }),
        ),
      };
    },

    setVolumeDescription: async ({ sdUUID, spUUID, imgUUID, volUUID, description }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolAnyDomain(sdUUID, spUUID);
      await d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
        await vol.updateMeta(dom, imgUUID, volUUID, { DESCRIPTION: description });
      });
      return {};
    },

    setVolumeLegality: async ({ sdUUID, spUUID, imgUUID, volUUID, legality }) => {
      d.spmOf(spUUID);
      const { dom } = await d.poolAnyDomain(sdUUID, spUUID);
      await d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
        await vol.updateMeta(dom, imgUUID, volUUID, { LEGALITY: legality });
      });
      return {};
    },
  };
  return {
    handlers,
    forgetTask(taskId) {
      for (const [k, v] of creates) if (v.taskId === taskId) creates.delete(k);
    },
  };
}
