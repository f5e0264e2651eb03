/**
 * SPM verbs: spmStart (join or start the contention for the pool's SPM lease, as a task that
 * reports the outcome), spmStop and getSpmStatus. The role itself, its lease and its fencing are in
 * spm.ts; self-election in election.ts.
 */
import { randomUUID } from "node:crypto";
import type { PartialHandlers } from "../../api/handlers.js";
import type { StorageDeps } from "../deps.js";
import { Task } from "../task/task.js";

export function spmVerbs(d: StorageDeps): PartialHandlers {
  const { pools, clusters, tasks } = d;
  return {
    spmStart: async ({ spUUID, prevID, prevLVER, maxHostID }) => {
      const p = pools.get(spUUID);
      if (p.spm.isSpm()) return { uuid: d.startTask("spmStart", async () => undefined, false) };
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
  };
}
