/**
 * Long commands (copy, move, extend, snapshots, templates, VMs from templates): the request
 * validates, records the entities as locked and answers at once (201/202); the node tasks run
 * here, in the background, as steps of the command's job. On failure every undo the command
 * pushed (before and after detaching) runs, last first, and the job fails. Never leaves a job
 * open or a lock held, whatever the work throws.
 */
import type { ApiFault } from "../errors/fault.js";
import { ApiFault as Fault } from "../errors/fault.js";
import type { Engine } from "../engine.js";
import { type Exec, faultOf } from "./command.js";

export interface Outcome {
  ok: boolean;
  /** Why it failed, as the client would have seen it had it waited. */
  fault?: ApiFault;
}

export interface Started {
  jobId: string;
  /** Settles when the background work ended (never rejects). */
  done: Promise<Outcome>;
}

/**
 * Runs `work` after the request: the command's locks and job stay held until it ends. `name` is
 * the command's verb phrase, used in the fault ("Cannot copy Disk: …").
 */
export function inBackground(e: Engine, x: Exec, name: string, work: () => Promise<void>): Started {
  const finish = x.detach();
  let settle: (o: Outcome) => void = () => undefined;
  const done = new Promise<Outcome>((r) => {
    settle = r;
  });
  e.bg.run(`${name} (job ${x.jobId})`, async () => {
    let outcome: Outcome = { ok: true };
    try {
      await work();
    } catch (err) {
      e.log.warn({ err, command: name, job: x.jobId }, "background command failed");
      await x.revert.run();
      const f = faultOf(err, name);
      outcome = { ok: false, fault: f instanceof Fault ? f : new Fault(500, "Operation Failed", `Cannot ${name}: ${(err as Error)?.message ?? String(err)}`) };
    } finally {
      await finish(outcome.ok ? "finished" : "failed", outcome.fault?.detail).catch((err: unknown) => e.log.error({ err, job: x.jobId }, "ending job failed"));
      settle(outcome);
    }
  });
  return { jobId: x.jobId, done };
}
