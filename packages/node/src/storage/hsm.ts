/**
 * The node's storage subsystem (VDSM's hsm.py, without its size): builds the parts (connections,
 * domain registry, pools with their SPM, task manager, images) and maps each storage verb of the
 * verb table to them. Handlers receive validated params and return VDSM's response members
 * (without `status`); failures are VdsmErrors. Metadata-changing verbs run only on the SPM, as
 * tasks. Never lets a request value reach a path or argv except a validated UUID or a connection
 * string that passed connection.ts's allow-lists.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { BLANK_UUID, type DomainInfo, initialSizeProblem, LvmUuid, VdsmError } from "@vela/protocol";
import type { NodeContext } from "../api/context.js";
import type { PartialHandlers } from "../api/handlers.js";
import type { ImageService, Subsystem } from "../api/services.js";
import { Clusters } from "./cluster.js";
import { Connections, typeName } from "./connection.js";
import { writerTask } from "./fence.js";
import { asFile, DomainRegistry, FileDomain, type StorageDomain } from "./domain/index.js";
import { BlockDomain } from "./domain/block.js";
import { blockVolumeInfo, checkBlockCreate, collectBlockGarbage, createBlockVolumeJob, deleteBlockVolumesJob } from "./block/volume.js";
import { blockImageHandlers } from "./block/handlers.js";
import { teardownBlockImage } from "./block/image.js";
import { thinImages } from "./block/thin.js";
import { poolsOf } from "./domain/file.js";
import { isDir } from "./fileutil.js";
import { Images } from "./image.js";
import { SafeLease } from "./lease/index.js";
import { type ConnectedPool, Pools } from "./pool.js";
import { SPM_LEASE_OFFSET } from "./spm.js";
import { createBlockStorage } from "./hsm-block.js";
import { imageHandlers, registerRecoveries } from "./hsm-images.js";
import { poolHandlers } from "./hsm-pool.js";
import { collectGarbage } from "./image-ops.js";
import { importHandlers } from "./import.js";
import { DomainMonitor } from "./monitor.js";
import type { VolumeMd } from "./metadata.js";
import { KeyedRwLock } from "./sync.js";
import { TaskManager } from "./task/manager.js";
import { TaskStore } from "./task/store.js";
import { Task } from "./task/task.js";
import * as vol from "./volume.js";

const STATUS_WAIT_MS = 50;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

const CLASS_NAMES = { 1: "Data", 2: "Iso", 3: "Backup" } as const;
const FILE_TYPES = new Set(["NFS", "LOCALFS", "POSIXFS"]);
const BLOCK_TYPES = new Set(["FCP", "ISCSI"]);

export interface Storage extends Subsystem {
  images: ImageService;
  /** For getVdsStats: per-domain monitoring results. */
  stats(): Promise<Record<string, unknown>>;
}

export async function createStorage(ctx: NodeContext): Promise<Storage> {
  const log = ctx.log.child({ sub: "storage" });
  const sctx: NodeContext = { ...ctx, log };
  const conns = new Connections(sctx);
  const domains = new DomainRegistry(conns.mntRoot);
  const block = createBlockStorage(sctx, domains);
  const lock = new SafeLease(log);
  const tasks = new TaskManager(log, Number(process.env.VELA_STORAGE_WORKERS ?? 4));
  const pools = new Pools(sctx, domains, lock, tasks);
  // Host ids, self-election, mailbox and write fence of each connected pool (cluster.ts).
  const clusters = new Clusters(sctx, pools, domains, lock);
  const images = new Images(domains, pools);
  const imageLocks = new KeyedRwLock();
  /** createVolume requests by target volume, for idempotent retries. */
  const creates = new Map<string, { taskId: string; sig: string }>();

  tasks.register("volume.removeFiles", async ([sd, img, v]) => vol.removeVolumeFiles(await domains.getFile(sd), img, v));
  tasks.register("block.removeVolume", async ([sd, img, v]) => (await domains.get(sd)).removeVolumeArea(img, v));
  tasks.register("image.rmdirIfEmpty", async ([sd, img]) => vol.rmdirIfEmpty((await domains.getFile(sd)).imageDir(img)));
  registerRecoveries({ ctx: sctx, domains, tasks });
  const monitor = new DomainMonitor(sctx, domains, pools);
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

  /** The pool's SPM, checked: the pool is connected here and this host holds the role. */
  function spmOf(spUUID: string) {
    const p = pools.get(spUUID);
    p.spm.assertSpm();
    return p;
  }

  /** A domain that belongs to the pool, with its metadata. */
  async function poolAnyDomain(sdUUID: string, spUUID: string): Promise<{ dom: StorageDomain; md: Record<string, string> }> {
    const dom = await domains.get(sdUUID);
    const md = await dom.metadata();
    if (!poolsOf(md).includes(spUUID)) throw new VdsmError("StorageDomainNotInPool", `${sdUUID} is not in ${spUUID}`);
    return { dom, md };
  }
  /** The same, for operations only file domains implement (a block domain gets a clear refusal). */
  async function poolDomain(sdUUID: string, spUUID: string): Promise<{ dom: FileDomain; md: Record<string, string> }> {
    const { dom, md } = await poolAnyDomain(sdUUID, spUUID);
    return { dom: asFile(dom), md };
  }

  /** Starts an SPM task; persistent ones are written to master/tasks for a new SPM to recover. */
  function startTask(name: string, job: (t: Task) => Promise<unknown>, persistent = true): string {
    const id = randomUUID();
    // The job's writes know their task (fence.ts): a task fenced with a lost lease never writes.
    tasks.start(new Task(id, name, "spm", persistent), (t) => writerTask.run(t, () => job(t)));
    return id;
  }

  /** On becoming SPM: tasks go to this pool's master/tasks, and what a previous SPM left is recovered. */
  function recoverOnStart(p: ConnectedPool): () => Promise<void> {
    return async () => {
      const master = await pools.master(p);
      const store = new TaskStore(join(master.masterDir(), "tasks"));
      tasks.sink = store;
      // Finish deletes a crash interrupted (`_remove_me_` images) on every reachable pool domain.
      for (const sd of await domains.all()) {
        const md = await sd.metadata().catch(() => undefined);
        if (!md || !poolsOf(md).includes(p.spUUID)) continue;
        const purged = await (sd instanceof BlockDomain ? collectBlockGarbage(sd) : collectGarbage(asFile(sd))).catch((err) => {
          log.warn({ err, sd: sd.sdUUID }, "garbage collection failed");
          return [] as string[];
        });
        if (purged.length) log.info({ sd: sd.sdUUID, purged }, "removed images left by interrupted deletes");
      }
      const { tasks: stored, bad } = await store.load();
      for (const b of bad) log.error({ task: b }, "unreadable task file left on the master domain");
      const r = await tasks.recover(stored);
      if (r.rolledBack.length || r.kept.length) log.info(r, "tasks recovered from the master domain");
    };
  }

  async function withImageLock<T>(sd: string, img: string, mode: "shared" | "exclusive", fn: () => Promise<T>): Promise<T> {
    const release = await imageLocks.acquire(`${sd}/${img}`, mode);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  const fileImageHandlers = imageHandlers({ ctx: sctx, domains, pools, tasks, spmOf, poolDomain, startTask, withImageLock });
  const handlers: PartialHandlers = {
    connectStorageServer: async ({ domType, conList }) => ({ statuslist: await conns.connect(domType, conList) }),
    disconnectStorageServer: async ({ domType, conList }) => ({ statuslist: await conns.disconnect(domType, conList) }),

    createStorageDomain: async (a) => {
      const kind = typeName(a.storageType);
      const isBlock = BLOCK_TYPES.has(kind);
      if (!FILE_TYPES.has(kind) && !isBlock) throw new VdsmError("StorageDomainTypeError", `${kind} domains are not supported on this node yet`);
      if (a.domVersion !== 5) throw new VdsmError("UnsupportedDomainVersion", String(a.domVersion));
      const blockSize = a.blockSize === 0 ? 512 : a.blockSize;
      if (blockSize !== 512 && blockSize !== 4096) throw new VdsmError("InvalidParameter", `blockSize ${a.blockSize}`);
      const domClass = CLASS_NAMES[a.domClass as 1 | 2 | 3];
      if (!domClass) throw new VdsmError("StorageDomainClassError", String(a.domClass));
      if (!a.domainName || /[\n\r\0]/.test(a.domainName)) throw new VdsmError("InvalidParameter", "domainName");
      if (isBlock) {
        // typeSpecificArg is the VG's LVM UUID (createVG's answer), as in VDSM.
        const vgUUID = LvmUuid.safeParse(a.typeSpecificArg);
        if (!vgUUID.success) throw new VdsmError("InvalidParameter", "typeSpecificArg: not an LVM VG UUID");
        if (await domains.find(a.sdUUID)) throw new VdsmError("StorageDomainAlreadyExists", a.sdUUID);
        await block.createDomain({ sdUUID: a.sdUUID, vgUUID: vgUUID.data, name: a.domainName, type: kind as "FCP" | "ISCSI", domClass, version: a.domVersion, blockSize });
        return {};
      }
      const remote = conns.checkConnection(kind, { connection: a.typeSpecificArg });
      const mnt = conns.mountPointOf(kind, remote);
      if (!(await isDir(mnt))) throw new VdsmError("StorageDomainFSNotMounted", remote);
      if (await domains.find(a.sdUUID)) throw new VdsmError("StorageDomainAlreadyExists", a.sdUUID);
      const d = await FileDomain.create({
        mountPoint: mnt,
        sdUUID: a.sdUUID,
        name: a.domainName,
        remotePath: remote,
        type: kind as "NFS" | "LOCALFS" | "POSIXFS",
        domClass,
        version: a.domVersion,
        blockSize,
      });
      await lock.init(d.leasesPath(), SPM_LEASE_OFFSET);
      domains.remember(d);
      log.info({ sdUUID: a.sdUUID, kind, remote }, "storage domain created");
      return {};
    },

    getStorageDomainInfo: async ({ sdUUID }) => {
      const d = await domains.get(sdUUID);
      const md = await d.metadata();
      const info: DomainInfo = {
        uuid: sdUUID,
        type: md.TYPE,
        class: md.CLASS,
        name: md.DESCRIPTION,
        role: md.ROLE,
        pool: poolsOf(md),
        version: md.VERSION,
        block_size: Number(md.BLOCK_SIZE ?? 512),
        alignment: Number(md.ALIGNMENT ?? 1048576),
        remotePath: md.REMOTE_PATH ?? "",
        ...(md.VGUUID ? { vguuid: md.VGUUID } : {}),
      };
      if (md.ROLE === "Master") {
        Object.assign(info, { lver: md.POOL_SPM_LVER, spm_id: md.POOL_SPM_ID, master_ver: md.MASTER_VERSION });
      }
      return { info };
    },

    getStorageDomainStats: async ({ sdUUID }) => {
      const d = await domains.get(sdUUID);
      const md = await d.metadata();
      let sp: Awaited<ReturnType<typeof d.space>> | undefined;
      try {
        sp = await d.space();
      } catch (err) {
        throw new VdsmError("StorageDomainAccessError", `${sdUUID}: ${(err as Error).message}`);
      }
      return {
        stats: {
          disktotal: String(sp.total),
          diskfree: String(sp.free),
          mdavalid: true,
          mdathreshold: true,
          mdasize: 0,
          mdafree: 0,
          block_size: Number(md.BLOCK_SIZE ?? 512),
          fs_block_size: sp.blockSize,
          alerts: [],
          ...monitor.statsOf(sdUUID),
        },
      };
    },

    getStorageDomainsList: async ({ spUUID }) => {
      const all = await domains.all();
      if (spUUID === BLANK_UUID) return { domlist: all.map((d) => d.sdUUID) };
      const out: string[] = [];
      for (const d of all) {
        const md = await d.metadata().catch(() => undefined);
        if (md && poolsOf(md).includes(spUUID)) out.push(d.sdUUID);
      }
      return { domlist: out };
    },

    getImagesList: async ({ sdUUID }) => ({ imageslist: await (await domains.get(sdUUID)).listImages() }),

    getVolumesList: async ({ sdUUID, imgUUID }) => {
      const d = await domains.get(sdUUID);
      if (imgUUID !== BLANK_UUID) return { uuidlist: await d.listVolumes(imgUUID) };
      const out = new Set<string>();
      for (const img of await d.listImages()) for (const v of await d.listVolumes(img)) out.add(v);
      return { uuidlist: [...out].sort() };
    },

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
      p.spm.onStarted = recoverOnStart(p);
      return {};
    },
    disconnectStoragePool: async ({ spUUID, hostID }) => {
      await pools.disconnect(spUUID, hostID);
      return {};
    },
    getStoragePoolInfo: async ({ spUUID }) => pools.info(spUUID),

    spmStart: async ({ spUUID, prevID, prevLVER, maxHostID }) => {
      const p = pools.get(spUUID);
      if (p.spm.isSpm()) return { uuid: startTask("spmStart", async () => undefined, false) };
      await p.spm.checkPrevious(prevID, prevLVER);
      const c = clusters.find(spUUID);
      if (c && maxHostID >= 1 && maxHostID <= 2000) c.maxHostID = maxHostID;
      // Joins a self-election already contending; the task reports the outcome.
      const started = p.spm.contend();
      started.catch(() => {});
      const id = randomUUID();
      tasks.start(new Task(id, "spmStart", "hsm"), () => started);
      return { uuid: id };
    },
    spmStop: async ({ spUUID }) => {
      await pools.get(spUUID).spm.stop();
      return {};
    },
    getSpmStatus: async ({ spUUID }) => ({ spm_st: await pools.get(spUUID).spm.status() }),

    createVolume: async (a) => {
      spmOf(a.spUUID);
      const { dom, md } = await poolAnyDomain(a.sdUUID, a.spUUID);
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
          const id = startTask("createVolume", async () => undefined, false);
          creates.set(key, { taskId: id, sig });
          return { uuid: id };
        }
      }
      const spec = { dom, img: a.imgUUID, vol: a.volUUID, capacity, format, type, diskType: a.diskType, desc: a.desc, parent };
      const id = startTask("createVolume", (t) =>
        withImageLock(a.sdUUID, a.imgUUID, "exclusive", async () => {
          spmOf(a.spUUID);
          if (dom instanceof BlockDomain) await createBlockVolumeJob(log, t, { ...spec, dom, initialSize: a.initialSize }, (pt) => ctx.fault(pt));
          else await vol.createVolumeJob(log, t, { ...spec, dom: asFile(dom) }, (pt) => ctx.fault(pt));
        }),
      );
      creates.set(key, { taskId: id, sig });
      return { uuid: id };
    },

    deleteVolume: async ({ sdUUID, spUUID, imgUUID, volumes, force }) => {
      spmOf(spUUID);
      const { dom: any } = await poolAnyDomain(sdUUID, spUUID);
      const dom = any;
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
        return { uuid: startTask("deleteVolume", (t) => withImageLock(sdUUID, imgUUID, "exclusive", () => deleteBlockVolumesJob(t, dom, imgUUID, volumes))) };
      }
      const file = asFile(dom);
      const id = startTask("deleteVolume", (t) =>
        withImageLock(sdUUID, imgUUID, "exclusive", async () => {
          for (const v of volumes) {
            spmOf(spUUID);
            const md = await vol.readMeta(dom, imgUUID, v).catch(() => undefined);
            if (!md) continue;
            // If this SPM dies between removing the child and fixing the parent, the next one
            // finishes the parent from the persisted stack (the client's retry finds no volume).
            if (md.PUUID !== BLANK_UUID && md.IMAGE === imgUUID) {
              await t.push({ name: "parent is the leaf again", action: "volume.leafIfChildless", params: [sdUUID, imgUUID, md.PUUID] });
            }
            // Roll-forward like deleteImage: once started, an interrupted delete is finished by
            // the next SPM (files first, then the parent step above), never left ILLEGAL.
            await t.push({ name: "finish removing the volume", action: "volume.removeFiles", params: [sdUUID, imgUUID, v] });
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
      const d = await domains.get(sdUUID);
      return { info: d instanceof BlockDomain ? await blockVolumeInfo(d, imgUUID, volUUID) : await vol.volumeInfo(asFile(d), imgUUID, volUUID) };
    },

    getVolumeSize: async ({ sdUUID, imgUUID, volUUID }) => {
      const any = await domains.get(sdUUID);
      if (any instanceof BlockDomain) {
        const size = String(await any.volumeAreaSize(imgUUID, volUUID));
        return { apparentsize: size, truesize: size };
      }
      const d = asFile(any);
      await vol.readMeta(d, imgUUID, volUUID);
      const sz = await vol.volumeSize(d, imgUUID, volUUID);
      return { apparentsize: String(sz.apparentsize), truesize: String(sz.truesize) };
    },

    prepareImage: async ({ sdUUID, spUUID, imgUUID, leafUUID, allowIllegal }) => {
      const r = await withImageLock(sdUUID, imgUUID, "shared", () => images.prepareVerb(sdUUID, spUUID, imgUUID, leafUUID, allowIllegal));
      return { path: r.path, info: r.info, imgVolumesInfo: r.imgVolumesInfo };
    },
    teardownImage: async ({ sdUUID, imgUUID, volUUID }) => {
      const d = await domains.get(sdUUID);
      // Block volumes free their devices; file volumes have none.
      if (d instanceof BlockDomain && volUUID) await withImageLock(sdUUID, imgUUID, "shared", () => teardownBlockImage(d, imgUUID, volUUID));
      return {};
    },

    getTaskStatus: async ({ taskID }) => {
      // A task younger than a second is waited on briefly, so a client that polls at once sees a
      // fast task (createVolume) finished on its first poll instead of sleeping a poll interval.
      const t = tasks.get(taskID);
      if (!t.isDone() && Date.now() - t.createdAt < 1000) await Promise.race([t.done, sleep(STATUS_WAIT_MS)]);
      return { taskStatus: t.status() };
    },
    getTaskInfo: async ({ taskID }) => ({ TaskInfo: tasks.get(taskID).info() }),
    getAllTasksStatuses: async () => ({ allTasksStatus: Object.fromEntries(tasks.list().map((t) => [t.id, t.status()])) }),
    getAllTasksInfo: async () => ({ allTasksInfo: Object.fromEntries(tasks.list().map((t) => [t.id, t.info()])) }),
    clearTask: async ({ taskID }) => {
      await tasks.clear(taskID);
      for (const [k, v] of creates) if (v.taskId === taskID) creates.delete(k);
      return {};
    },
    stopTask: async ({ taskID }) => {
      tasks.stop(taskID);
      return {};
    },
    ...fileImageHandlers,
    // Block domains take their own way through the image verbs they implement.
    ...blockImageHandlers({ spmOf, poolAnyDomain, startTask, withImageLock }, fileImageHandlers),
    ...poolHandlers({ ctx: sctx, domains, pools, tasks, lock, spmOf, startTask, connected: (p) => (p.spm.onStarted = recoverOnStart(p)) }),
    ...clusters.handlers(),
    ...importHandlers({ ctx: sctx, domains, images, withImageLock }),
    ...block.handlers,
  };

  return {
    handlers,
    images: thinImages(images, log, domains, pools, clusters),
    async stats() {
      return { storageDomains: monitor.report() };
    },
    async close() {
      monitor.stop();
      await clusters.close();
      // A clean stop gives the SPM role back at once instead of making others wait out the lease.
      for (const p of pools.all()) {
        if (p.spm.role === "SPM") await p.spm.stop(true).catch((err) => log.warn({ err }, "spmStop at shutdown failed"));
      }
    },
  };
}
