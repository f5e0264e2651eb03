/**
 * Task verbs: status and info of one task or all, clear, stop and revert. A task younger than a
 * second is waited on briefly before its status is answered; an SPM task is reverted only on an
 * SPM (its undo writes pool metadata).
 */
import { VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../../api/handlers.js";
import type { StorageDeps } from "../deps.js";

const STATUS_WAIT_MS = 50;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** `cleared` runs for each task clearTask removes (createVolume forgets its retry record). */
export function taskVerbs(d: StorageDeps, cleared: (taskId: string) => void): PartialHandlers {
  const { tasks } = d;
  return {
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
      cleared(taskID);
      return {};
    },
    stopTask: async ({ taskID }) => {
      tasks.stop(taskID);
      return {};
    },
    revertTask: async ({ taskID }) => {
      // An SPM task's undo writes pool metadata: only an SPM may replay it.
      if (d.tasks.get(taskID).persistent && !d.pools.all().some((p) => p.spm.isSpm())) {
        throw new VdsmError("SpmStatusError", `reverting ${taskID} needs the SPM`);
      }
      await d.tasks.revert(taskID);
      return {};
    },
  };
}
