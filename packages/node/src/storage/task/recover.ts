/**
 * What a host does on becoming a pool's SPM, before it takes new work: task records go to this
 * pool's master/tasks, deletes a crash interrupted (`_remove_me_` images) are finished on every
 * reachable pool domain, and the tasks a previous SPM left are recovered (rolled back or kept).
 */
import { join } from "node:path";
import type { StorageDeps } from "../deps.js";
import { poolsOf } from "../domain/file.js";
import { asFile } from "../domain/index.js";
import { collectGarbage } from "../image/ops.js";
import { collectBlockGarbage } from "../block/volume.js";
import { BlockDomain } from "../domain/block.js";
import type { ConnectedPool } from "../pool/pool.js";
import { TaskStore } from "./store.js";

export function recoverOnSpmStart(d: Pick<StorageDeps, "ctx" | "domains" | "pools" | "tasks">, p: ConnectedPool): () => Promise<void> {
  const { domains, pools, tasks } = d;
  const log = d.ctx.log;
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
