/**
 * The node's storage subsystem (VDSM's hsm.py, without its size): builds the parts (connections,
 * domain registry, pools with their SPM, task manager, images) and maps each storage verb of the
 * verb table to them. Handlers receive validated params and return VDSM's response members
 * (without `status`); failures are VdsmErrors. Metadata-changing verbs run only on the SPM, as
 * tasks. The verbs live beside their concept (domain/, pool/, spm/, image/, volume/, task/, block/
 * verbs.ts); this file only builds the parts and wires them. Never lets a request value reach a path or argv except a validated UUID or a connection
 * string that passed connection.ts's allow-lists.
 */
import type { NodeContext } from "../api/context.js";
import type { PartialHandlers } from "../api/handlers.js";
import type { ImageService, Subsystem } from "../api/services.js";
import { thinImages } from "./block/thin.js";
import { createBlockStorage } from "./block/verbs.js";
import { storageDeps } from "./deps.js";
import { Connections } from "./domain/connection.js";
import { DomainRegistry } from "./domain/index.js";
import { DomainMonitor } from "./domain/monitor.js";
import { domainVerbs } from "./domain/verbs.js";
import { importHandlers } from "./image/import.js";
import { ImageTransfers } from "./image/transfer.js";
import { Images, underImageLock } from "./image/prepare.js";
import { imageVerbs } from "./image/verbs.js";
import { SafeLease } from "./lease/index.js";
import { Clusters } from "./pool/cluster.js";
import { masterVerbs } from "./pool/master-verbs.js";
import { Pools } from "./pool/pool.js";
import { poolVerbs } from "./pool/verbs.js";
import { spmVerbs } from "./spm/verbs.js";
import { TaskManager } from "./task/manager.js";
import { recoverOnSpmStart } from "./task/recover.js";
import { taskVerbs } from "./task/verbs.js";
import { volumeVerbs } from "./volume/verbs.js";

export interface Storage extends Subsystem {
  images: ImageService;
  /** Image transfer tickets, whose data path the server mounts at /images (image-http.ts). */
  transfers: ImageTransfers;
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
  // Host ids, self-election, mailbox and write fence of each connected pool (pool/cluster.ts).
  const clusters = new Clusters(sctx, pools, domains, lock);
  const images = new Images(domains, pools);
  const monitor = new DomainMonitor(sctx, domains, pools);
  const parts = { ctx: sctx, conns, domains, block, lock, tasks, pools, clusters, images, monitor };
  // On becoming SPM of a pool this host connected to: recover what a previous SPM left.
  const d = storageDeps(parts, (p) => {
    p.spm.onStarted = recoverOnSpmStart(parts, p);
  });
  const volumes = volumeVerbs(d);
  const transfers = new ImageTransfers(d);

  const handlers: PartialHandlers = {
    ...domainVerbs(d),
    ...poolVerbs(d),
    ...masterVerbs(d),
    ...spmVerbs(d),
    ...volumes.handlers,
    ...imageVerbs(d),
    ...taskVerbs(d, (id) => volumes.forgetTask(id)),
    ...clusters.handlers(),
    ...importHandlers(d),
    ...transfers.handlers(),
    ...block.handlers,
  };

  return {
    handlers,
    transfers,
    // Thin block volumes: their allocation and extension for running VMs (block/thin.ts); VM
    // images prepared and torn down under the image lock, as the verbs do (image/prepare.ts).
    images: underImageLock(thinImages(images, log, domains, pools, clusters), d),
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
