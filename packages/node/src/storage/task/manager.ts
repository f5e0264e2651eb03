/**
 * Runs storage tasks: bounded concurrency, state transitions, rollback of the recovery stack on
 * failure, optional persistence through a TaskStore, and the verbs' views (status, info, clear,
 * stop). A failed job never leaves its recovery stack unreplayed; a task is forgotten only when
 * a client clears it.
 */
import { VdsmError } from "@vela/protocol";
import type { Logger } from "../../log.js";
import { WorkerPool } from "../sync.js";
import type { Recovery, Task, TaskStatus } from "./task.js";

export type RecoveryFn = (params: readonly string[]) => Promise<void>;

/** Where persistent tasks are written (master/tasks on the SPM); see store.ts. */
export interface TaskSink {
  save(t: Task): Promise<void>;
  /** Writes `t`'s record aside; `commit` makes it the record (one rename). */
  stage(t: Task): Promise<{ commit(): Promise<void> }>;
  remove(id: string): Promise<void>;
}

export class TaskManager {
  private readonly tasks = new Map<string, Task>();
  private readonly actions = new Map<string, RecoveryFn>();
  private readonly workers: WorkerPool;
  sink: TaskSink | undefined;

  constructor(
    private readonly log: Logger,
    concurrency = 4,
  ) {
    this.workers = new WorkerPool(concurrency);
  }

  register(action: string, fn: RecoveryFn): void {
    this.actions.set(action, fn);
  }

  has(id: string): boolean {
    return this.tasks.has(id);
  }

  get(id: string): Task {
    const t = this.tasks.get(id);
    if (!t) throw new VdsmError("UnknownTask", id);
    return t;
  }

  list(): Task[] {
    return [...this.tasks.values()];
  }

  /** Starts `job` in the background; returns at once. */
  start(task: Task, job: (t: Task) => Promise<unknown>): Task {
    if (this.tasks.has(task.id)) throw new VdsmError("InvalidTask", `task ${task.id} exists`);
    this.tasks.set(task.id, task);
    task.state = "queued";
    task.message = "Task is queued";
    task.done = this.workers.run(() => this.execute(task, job));
    return task;
  }

  /** Adds a task known only from storage (recovery on spmStart) without running it. */
  adopt(task: Task): void {
    this.tasks.set(task.id, task);
    this.saved.add(task.id);
    task.persist = () => this.save(task);
    if (!task.done) task.done = Promise.resolve();
  }

  /**
   * Takes over the tasks a previous SPM left on storage: finished ones are kept for their
   * clients to read and clear; unfinished ones are rolled back from their stacks.
   */
  async recover(stored: Task[]): Promise<{ rolledBack: string[]; kept: string[] }> {
    const rolledBack: string[] = [];
    const kept: string[] = [];
    for (const t of stored) {
      // Ours and still in memory, unless fenced: a task this host ran in an earlier SPM term
      // (before it lost the lease) is taken back from storage like anyone else's.
      if (this.tasks.has(t.id) && !this.tasks.get(t.id)!.fenced) continue;
      this.adopt(t);
      if (t.isDone()) {
        kept.push(t.id);
        continue;
      }
      this.log.warn({ task: t.id, verb: t.name, state: t.state, steps: t.recoveries.length }, "recovering task left by a previous SPM");
      if (t.code === 0) {
        t.code = 411;
        t.message = "Task is aborted: the SPM that ran it stopped";
      }
      await this.rollback(t);
      rolledBack.push(t.id);
    }
    return { rolledBack, kept };
  }

  private readonly saved = new Set<string>();

  private async save(t: Task): Promise<void> {
    if (!t.persistent || !this.sink || t.fenced) return;
    await this.sink.save(t);
    this.saved.add(t.id);
  }

  private async execute(task: Task, job: (t: Task) => Promise<unknown>): Promise<void> {
    try {
      task.state = "running";
      task.message = "Task is running";
      // Written on its first push (before its first change), not here: a task that changed
      // nothing has nothing for a new SPM to recover.
      task.persist = () => this.save(task);
      let finish: { commit(): Promise<void> } | undefined;
      task.prepareFinish = async () => {
        finish = await this.stageFinished(task);
      };
      task.checkAbort();
      task.result = (await job(task)) ?? "";
      markFinished(task);
      if (finish && !task.fenced) await finish.commit();
      else if (this.saved.has(task.id)) await this.save(task);
    } catch (err) {
      const e = err instanceof VdsmError ? err : new VdsmError("GeneralException", (err as Error)?.message ?? String(err), { cause: err });
      if (!(err instanceof VdsmError)) this.log.error({ task: task.id, verb: task.name, err }, "task crashed");
      else this.log.info({ task: task.id, verb: task.name, code: e.code, err: e.message }, "task failed");
      task.code = e.code;
      task.message = e.message;
      if (task.fenced) {
        task.state = "waitrecover";
        task.message = `SPM lease lost; left for the next SPM to recover (${e.message})`;
        return;
      }
      await this.rollback(task);
    }
  }

  /**
   * Writes the task's finished record aside while its job still runs (overlapping the job's slow
   * step), so finishing costs one rename. Only for a job's last stretch: the staged record has an
   * empty recovery stack.
   */
  private async stageFinished(task: Task): Promise<{ commit(): Promise<void> } | undefined> {
    if (!task.persistent || !this.sink || task.fenced) return undefined;
    const view = Object.assign(Object.create(Object.getPrototypeOf(task)) as Task, task, { recoveries: [] });
    markFinished(view);
    const staged = await this.sink.stage(view);
    this.saved.add(task.id);
    return staged;
  }

  /** Replays the recovery stack newest first; recovered if all steps pass, failed otherwise. */
  async rollback(task: Task): Promise<void> {
    task.state = "recovering";
    task.nrecoveries++;
    await this.save(task).catch(() => {});
    for (let r: Recovery | undefined = task.recoveries.at(-1); r; r = task.recoveries.at(-1)) {
      const fn = this.actions.get(r.action);
      try {
        if (!fn) throw new Error(`no recovery action ${r.action}`);
        await fn(r.params);
        task.recoveries.pop();
        await this.save(task).catch(() => {});
      } catch (err) {
        this.log.error({ task: task.id, step: r.what, err }, "rollback step failed");
        task.state = "failed";
        await this.save(task).catch(() => {});
        return;
      }
    }
    task.state = "recovered";
    await this.save(task).catch(() => {});
  }

  status(id: string): TaskStatus {
    return this.get(id).status();
  }

  /** Forgets a finished task (and its persisted copy). */
  async clear(id: string): Promise<void> {
    const t = this.get(id);
    if (!t.isDone()) throw new VdsmError("TaskInProgress", id);
    this.tasks.delete(id);
    if (t.persistent && this.sink && this.saved.delete(id)) await this.sink.remove(id);
  }

  /** Asks a running task to stop at its next step; its stack is then rolled back. */
  stop(id: string): void {
    const t = this.get(id);
    if (t.isDone()) throw new VdsmError("TaskStateError", `${id} is ${t.state}`);
    t.aborted = true;
  }

  /**
   * revertTask: rolls back a task that is stopped but not cleaned (waitrecover, or left by a
   * previous SPM with steps still on its stack). A running task must be stopped first; a
   * finished one has nothing left to undo.
   */
  async revert(id: string): Promise<void> {
    const t = this.get(id);
    if (!t.isDone() && t.state !== "waitrecover") throw new VdsmError("TaskStateError", `${id} is ${t.state}: stop it first`);
    if (t.state === "finished" || t.recoveries.length === 0) throw new VdsmError("TaskStateError", `${id} is ${t.state}: nothing to revert`);
    t.fenced = false;
    await this.rollback(t);
  }

  /** Tasks still running (spmStop refuses while there are). */
  running(): Task[] {
    return this.list().filter((t) => !t.isDone());
  }

  /**
   * Drops the tasks fenced with a lost SPM term, once a newer SPM exists: it loaded them from
   * storage and alone can tell their end (VDSM gets the same by restarting a fenced agent).
   * Their persisted copies are the new SPM's and stay.
   */
  forgetFenced(): string[] {
    const gone: string[] = [];
    for (const [id, t] of this.tasks) {
      if (!t.fenced || t.isDone()) continue;
      this.tasks.delete(id);
      this.saved.delete(id);
      gone.push(id);
    }
    return gone;
  }
}

function markFinished(t: Task): void {
  t.recoveries = [];
  t.state = "finished";
  t.code = 0;
  t.message = "1 jobs completed successfully";
  t.progress = 100;
}
