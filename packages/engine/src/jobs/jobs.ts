/**
 * Jobs and steps (oVirt's /jobs): every command is recorded as a job; steps that wait on a node
 * task store the task id and host, so polling resumes after an engine restart. Also the one place
 * that waits for a node task to finish. Never decides what a task's outcome means for an entity:
 * the command that started it does.
 */
import { randomUUID } from "node:crypto";
import { now } from "../db/schema.js";
import { type Engine, sleep } from "../engine.js";
import type { TaskStatus } from "@vela/protocol";
import { Code } from "@vela/protocol/errors";
import { NodeError, type NodeTarget, NodeUnreachable } from "../hosts/client.js";
import { listened, publish } from "../events/bus.js";

export type JobStatus = "started" | "finished" | "failed" | "aborted";
export type StepType = "validating" | "executing" | "finalizing";

export async function startJob(e: Engine, description: string, actionType: string, payload: unknown = {}): Promise<string> {
  const id = randomUUID();
  const at = now();
  await e.db
    .insertInto("jobs")
    .values({ id, description, status: "started", action_type: actionType, payload: JSON.stringify(payload), start_time: at, end_time: null, last_updated: at })
    .execute();
  publish(e, { type: "job", id, status: "started" });
  return id;
}

export async function setJobPayload(e: Engine, jobId: string, payload: unknown): Promise<void> {
  await e.db.updateTable("jobs").set({ payload: JSON.stringify(payload), last_updated: now() }).where("id", "=", jobId).execute();
}

export async function endJob(e: Engine, jobId: string, status: JobStatus): Promise<void> {
  const at = now();
  await e.db.updateTable("jobs").set({ status, end_time: at, last_updated: at }).where("id", "=", jobId).execute();
  // A step still open when its job ends shares the job's fate.
  await e.db
    .updateTable("steps")
    .set({ status, end_time: at, progress: status === "finished" ? 100 : 0 })
    .where("job_id", "=", jobId)
    .where("status", "=", "started")
    .execute();
  publish(e, { type: "job", id: jobId, status, progress: status === "finished" ? 100 : undefined });
}

export async function addStep(
  e: Engine,
  jobId: string,
  type: StepType,
  description: string,
  task?: { taskId: string; hostId: string },
): Promise<string> {
  const id = randomUUID();
  const n = await e.db
    .selectFrom("steps")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("job_id", "=", jobId)
    .executeTakeFirstOrThrow();
  await e.db
    .insertInto("steps")
    .values({
      id,
      job_id: jobId,
      number: Number(n.n),
      type,
      description,
      status: "started",
      progress: 0,
      task_id: task?.taskId ?? null,
      host_id: task?.hostId ?? null,
      start_time: now(),
      end_time: null,
    })
    .execute();
  await e.db.updateTable("jobs").set({ last_updated: now() }).where("id", "=", jobId).execute();
  publish(e, { type: "job", id: jobId, status: "started" });
  return id;
}

export async function setStepProgress(e: Engine, stepId: string, progress: number): Promise<void> {
  const pct = Math.max(0, Math.min(99, Math.round(progress)));
  await e.db.updateTable("steps").set({ progress: pct }).where("id", "=", stepId).where("status", "=", "started").execute();
  await publishStep(e, stepId, pct);
}

/** A step moved: its job is told to the live feed (only looked up when someone listens). */
async function publishStep(e: Engine, stepId: string, progress?: number): Promise<void> {
  if (!listened(e)) return;
  const row = await e.db.selectFrom("steps").select(["job_id", "status"]).where("id", "=", stepId).executeTakeFirst();
  if (row) publish(e, { type: "job", id: row.job_id, status: "started", progress });
}

export async function endStep(e: Engine, stepId: string, status: JobStatus): Promise<void> {
  await e.db
    .updateTable("steps")
    .set({ status, end_time: now(), progress: status === "finished" ? 100 : undefined })
    .where("id", "=", stepId)
    .execute();
  await publishStep(e, stepId, status === "finished" ? 100 : undefined);
}

/** A node task ended in failure; carries the VDSM code and message. */
export class TaskFailed extends Error {
  constructor(
    readonly taskId: string,
    readonly code: number,
    readonly nodeMessage: string,
  ) {
    super(`task ${taskId} failed: ${nodeMessage} (code ${code})`);
    this.name = "TaskFailed";
  }
}

/** The node no longer knows the task (it restarted and had no record): the caller must check the outcome itself. */
export class TaskLost extends Error {
  constructor(readonly taskId: string) {
    super(`task ${taskId} unknown to the node`);
    this.name = "TaskLost";
  }
}


/** The data center of the host at this address, and the host the engine knows as its SPM. */
async function poolOf(e: Engine, host: NodeTarget): Promise<{ dcId: string | null; spm?: NodeTarget } | undefined> {
  const row = await e.db
    .selectFrom("hosts as h")
    .innerJoin("clusters as c", "c.id", "h.cluster_id")
    .leftJoin("data_centers as dc", "dc.id", "c.data_center_id")
    .leftJoin("hosts as spm", "spm.id", "dc.spm_host_id")
    .select(["c.data_center_id", "spm.address", "spm.port"])
    .where("h.address", "=", host.address)
    .where("h.port", "=", host.port)
    .executeTakeFirst();
  if (!row) return undefined;
  return { dcId: row.data_center_id, spm: row.address && row.port ? { address: row.address, port: row.port } : undefined };
}

/**
 * Where an SPM task lives now. The node that started it may have lost the SPM role (killed, or
 * frozen past its lease): a fenced task then sits in "cleaning" there for good, and the next SPM
 * loads it from the master domain and rolls it back or forward, so its end is told by the data
 * center's current SPM, as oVirt polls tasks through the SPM. Returns undefined while the engine
 * knows no other SPM for the host's data center.
 */
async function spmNow(e: Engine, host: NodeTarget): Promise<NodeTarget | undefined> {
  const spm = (await poolOf(e, host))?.spm;
  if (!spm || (spm.address === host.address && spm.port === host.port)) return undefined;
  return spm;
}

/** Whether the node says it is the SPM of its data center's pool now (false when it cannot say). */
async function isSpm(e: Engine, host: NodeTarget): Promise<boolean> {
  const dcId = (await poolOf(e, host))?.dcId;
  if (!dcId) return true; // not in a pool: nobody else could know the task
  const st = await e.nodes
    .for(host)
    .call("getSpmStatus", { spUUID: dcId })
    .catch(() => undefined);
  return st?.spmStatus === "SPM";
}

/**
 * Polls getTaskStatus until the task ends; clears it on the node afterwards. An unreachable node
 * is retried for `unreachableMs`, since SPM tasks survive a node restart. When the node stops
 * answering or reports the task left for recovery ("cleaning"), the poll follows the task to the
 * data center's new SPM.
 */
export async function waitTask(
  e: Engine,
  host: NodeTarget,
  taskId: string,
  opts: { pollMs?: number; unreachableMs?: number; onPoll?: () => Promise<void> } = {},
): Promise<void> {
  let target: NodeTarget = host;
  let client = e.nodes.for(target);
  const pollMs = opts.pollMs ?? 250;
  let unreachableSince: number | undefined;
  let delay = 50;
  const follow = async (why: string): Promise<boolean> => {
    const next = await spmNow(e, target);
    if (!next) return false;
    e.log.info({ taskId, from: `${target.address}:${target.port}`, to: `${next.address}:${next.port}`, why }, "following task to the new SPM");
    target = next;
    client = e.nodes.for(target);
    unreachableSince = undefined;
    return true;
  };
  for (;;) {
    if (e.bg.stopping) throw new Error("engine stopping");
    let st: TaskStatus;
    try {
      st = await client.call("getTaskStatus", { taskID: taskId });
      unreachableSince = undefined;
    } catch (err) {
      if (err instanceof NodeError && err.code === Code.UnknownTask) {
        // A restarted former SPM has no record of it; the SPM that took its tasks over may.
        if (await follow("unknown to this node")) continue;
        // Only the SPM's word is final: it loads every persisted task before it says it is SPM.
        // A node that just restarted and has not taken the role back yet will know it then.
        if (await isSpm(e, target)) throw new TaskLost(taskId);
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > (opts.unreachableMs ?? 300_000)) throw new TaskLost(taskId);
        await sleep(1000);
        continue;
      }
      if (err instanceof NodeUnreachable) {
        if (await follow("unreachable")) continue;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > (opts.unreachableMs ?? 300_000)) throw err;
        await sleep(1000);
        continue;
      }
      throw err;
    }
    const state = st.taskState;
    if (state === "finished" || state === "failed") {
      await client.call("clearTask", { taskID: taskId }).catch((err: unknown) => e.log.warn({ err, taskId }, "clearTask failed"));
      if (st.taskResult === "success") return;
      throw new TaskFailed(taskId, st.code, st.message || "task failed");
    }
    if (state === "cleaning" && (await follow("left for the next SPM"))) continue;
    if (opts.onPoll) await opts.onPoll().catch((err: unknown) => e.log.debug({ err, taskId }, "progress probe failed"));
    await sleep(delay);
    delay = Math.min(delay * 2, pollMs);
  }
}

/**
 * One node task as one executing step of a job: start it, record the step with the task id and
 * host, wait for it, close the step. `progress` (0..100, optional) is polled while it runs.
 */
export async function nodeStep(
  e: Engine,
  jobId: string,
  host: NodeTarget & { id: string },
  description: string,
  start: () => Promise<unknown>,
  progress?: () => Promise<number | undefined>,
): Promise<void> {
  const taskId = await start();
  if (typeof taskId !== "string") throw new Error(`engine bug: ${description}: the node returned no task id`);
  const stepId = await addStep(e, jobId, "executing", description, { taskId, hostId: host.id });
  try {
    await waitTask(e, host, taskId, {
      onPoll: progress
        ? async () => {
            const pct = await progress();
            if (pct !== undefined && Number.isFinite(pct)) await setStepProgress(e, stepId, pct);
          }
        : undefined,
    });
    await endStep(e, stepId, "finished");
  } catch (err) {
    await endStep(e, stepId, "failed");
    throw err;
  }
}

/** A step the engine does itself (no node task), e.g. bookkeeping at the end of a job. */
export async function engineStep<T>(e: Engine, jobId: string, type: StepType, description: string, fn: () => Promise<T>): Promise<T> {
  const stepId = await addStep(e, jobId, type, description);
  try {
    const out = await fn();
    await endStep(e, stepId, "finished");
    return out;
  } catch (err) {
    await endStep(e, stepId, "failed");
    throw err;
  }
}
