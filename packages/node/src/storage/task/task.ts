/**
 * One storage task, VDSM-style: a job that runs in the background with a stable id, a state
 * machine, a result (code, message), and a LIFO stack of named rollback steps pushed as the job
 * makes changes. On failure (or abort) the stack is replayed newest first. Rollback steps are
 * protocol's `PersistedUndo`s (the persisted form of its one `Revert`): named actions with string
 * params, not closures, so the stack can be persisted and replayed by
 * a new SPM after a crash. A task never reports success until its job's last write is done.
 */
import { type TaskStatus, VdsmError } from "@vela/protocol";
import type { PersistedUndo } from "@vela/protocol/revert";

export type TaskState =
  | "init"
  | "preparing"
  | "blocked"
  | "acquiring"
  | "queued"
  | "running"
  | "finished"
  | "aborting"
  | "waitrecover"
  | "racquiring"
  | "recovering"
  | "raborting"
  | "recovered"
  | "failed";

/** VDSM's older, "deprecated" state names that getTaskStatus reports. */
const DEPRECATED_STATE: Record<TaskState, string> = {
  init: "init",
  preparing: "running",
  blocked: "running",
  acquiring: "running",
  queued: "running",
  running: "running",
  finished: "finished",
  aborting: "aborting",
  waitrecover: "cleaning",
  recovering: "cleaning",
  racquiring: "cleaning",
  raborting: "aborting",
  recovered: "finished",
  failed: "finished",
};
const DEPRECATED_RESULT: Partial<Record<TaskState, string>> = {
  finished: "success",
  recovered: "cleanSuccess",
  failed: "cleanFailure",
};

export const DONE_STATES: ReadonlySet<TaskState> = new Set(["finished", "recovered", "failed"]);

/** One step of the recovery stack: protocol's persisted undo (a registered action and its params). */
export type Recovery = PersistedUndo;

/** getTaskStatus's answer, as the verb table declares it. */
export type { TaskStatus };

export class Task {
  state: TaskState = "init";
  code = 0;
  message = "Task is initializing";
  result: unknown = "";
  recoveries: Recovery[] = [];
  /** 0..100 for jobs that report progress (copy, merge). */
  progress = 0;
  aborted = false;
  /**
   * Set when this host lost the SPM lease while the task ran: the task must neither go on nor
   * roll back (it may no longer write shared metadata); the next SPM recovers it from storage.
   */
  fenced = false;
  nrecoveries = 0;
  readonly createdAt = Date.now();
  done!: Promise<void>;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly tag = "spm",
    /** Whether the task is written to master/tasks (SPM metadata changes are). */
    readonly persistent = false,
  ) {}

  /**
   * Set by the manager: stages the task's finished record now, to be committed when the job
   * returns. A job calls it during its slow step, after its last push.
   */
  prepareFinish: (() => Promise<void>) | undefined;

  /** Set by the manager: writes the task (with its stack) where a new SPM will find it. */
  persist: (() => Promise<void>) | undefined;

  /**
   * Pushes undo steps and persists the stack before returning, so the step they undo may run.
   * Push several at once to pay one write.
   */
  async push(...rs: Recovery[]): Promise<void> {
    this.recoveries.push(...rs);
    await this.persist?.();
  }

  async pop(): Promise<Recovery | undefined> {
    const r = this.recoveries.pop();
    await this.persist?.();
    return r;
  }

  /** Throws TaskAborted if stopTask was called; jobs call it between steps. */
  checkAbort(): void {
    if (this.aborted) throw new VdsmError("TaskAborted", this.id);
  }

  isDone(): boolean {
    return DONE_STATES.has(this.state);
  }

  status(): TaskStatus {
    return {
      taskID: this.id,
      taskState: DEPRECATED_STATE[this.state],
      taskResult: DEPRECATED_RESULT[this.state] ?? "",
      code: this.code,
      message: this.message,
    };
  }

  /** VDSM's {id, verb}, plus Vela's progress (0..100) for long jobs such as copyImage. */
  info(): { id: string; verb: string; progress: number } {
    return { id: this.id, verb: this.name, progress: Math.round(this.progress) };
  }
}
