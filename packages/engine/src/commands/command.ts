/**
 * How every user action runs: take the entity locks → validate (inside the locks, so the checked
 * state cannot change underneath) → execute, pushing an undo for each step onto a revert stack →
 * on failure run the undos in reverse (compensate) and report a fault; the engine's state is then
 * as before. Each run is recorded as a job. A command may keep its locks and job open past the
 * request (`detach`) when a node task finishes later.
 */
import type { Engine } from "../engine.js";
import { ApiFault, nodeFailed } from "../errors/fault.js";
import { nodeFault } from "../errors/node-fault.js";
import { NodeError, NodeUnreachable } from "../hosts/client.js";
import { endJob, startJob, TaskFailed, TaskLost } from "../jobs/jobs.js";
import { eventRefs, logAction } from "../events/index.js";
import { Revert } from "@vela/protocol/revert";

export { Revert };

/** A command's revert stack: a failed undo is logged and the others still run. */
export function commandRevert(e: Engine): Revert {
  return new Revert((what, err) => e.log.error({ err, undo: what }, "compensation step failed"));
}

export interface Exec {
  revert: Revert;
  jobId: string;
  /**
   * Hand the job and locks to work that continues after the request: the command's finisher
   * must call `done(status)` exactly once.
   */
  /** The returned function ends the job; `detail` (a failure's reason) goes into its event. */
  detach(): (status: "finished" | "failed", detail?: string) => Promise<void>;
}

export interface CommandDef<I, P, O> {
  /** Verb phrase for messages: "add Disk", "run VM". */
  name: string;
  /** Not recorded as a job (frequent bookkeeping such as a node's periodic re-registration). */
  quiet?: boolean;
  /** Lock keys from the raw input (e.g. "vm:<id>", "name:vm:<name>"). */
  locks(input: I): string[];
  validate(e: Engine, input: I): Promise<P>;
  describe(plan: P): string;
  execute(e: Engine, plan: P, x: Exec): Promise<O>;
}

/** Turns a node-side failure into the fault the client sees. */
export function faultOf(err: unknown, what: string): unknown {
  if (err instanceof ApiFault) return err;
  if (err instanceof NodeError || err instanceof TaskFailed) {
    const msg = err instanceof NodeError ? err.nodeMessage : err.nodeMessage;
    return nodeFault(err.code, `Cannot ${what}: ${msg} (VDSM code ${err.code})`, err);
  }
  if (err instanceof NodeUnreachable) return new ApiFault(503, "Operation Failed", `Cannot ${what}: ${err.message}`, { cause: err });
  if (err instanceof TaskLost) return nodeFailed(`Cannot ${what}: ${err.message}`, err);
  return err;
}

export async function runCommand<I, P, O>(e: Engine, cmd: CommandDef<I, P, O>, input: I): Promise<O> {
  const release = e.locks.acquire(cmd.locks(input), cmd.name);
  let detached = false;
  try {
    const plan = await cmd.validate(e, input);
    const description = cmd.describe(plan);
    const jobId = cmd.quiet ? "" : await startJob(e, description, cmd.name);
    const revert = commandRevert(e);
    const exec: Exec = {
      revert,
      jobId,
      detach() {
        detached = true;
        let finished = false;
        return async (status, detail) => {
          if (finished) return;
          finished = true;
          release();
          if (jobId) await endJob(e, jobId, status);
          if (!cmd.quiet) await logAction(e, cmd.name, description, status === "finished", eventRefs(cmd.name, input, plan), detail);
        };
      },
    };
    try {
      const out = await cmd.execute(e, plan, exec);
      if (!detached && jobId) await endJob(e, jobId, "finished");
      if (!detached && !cmd.quiet) await logAction(e, cmd.name, description, true, eventRefs(cmd.name, input, plan));
      return out;
    } catch (err) {
      await revert.run();
      if (jobId) await endJob(e, jobId, "failed").catch(() => undefined);
      e.log.warn({ err, command: cmd.name, job: jobId }, "command failed");
      detached = false;
      const fault = faultOf(err, cmd.name);
      if (!cmd.quiet) await logAction(e, cmd.name, description, false, eventRefs(cmd.name, input, plan), fault instanceof ApiFault ? fault.detail : undefined);
      throw fault;
    }
  } finally {
    if (!detached) release();
  }
}
