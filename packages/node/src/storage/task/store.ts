/**
 * Persists SPM tasks on the master domain, `master/tasks/<id>/<id>.task`, in VDSM's
 * `field = value` style, so a new SPM (this host after a crash, or another host) can roll back
 * or report what the previous SPM left. One file per task, replaced atomically (write `.new`,
 * rename); the recovery stack is stored as `recover.N` fields, newest last. Vela keeps the stack
 * in the task file instead of VDSM's separate `.recover.N` files: one rename per change instead
 * of a directory swap. Never writes a value with a line break.
 */
import { UUID_RE } from "@vela/protocol";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { guardWrite } from "../spm/fence.js";
import { atomicWrite, stageWrite } from "../fileutil.js";
import type { TaskSink } from "./manager.js";
import { type Recovery, Task, type TaskState } from "./task.js";

const STATES: ReadonlySet<string> = new Set([
  "init", "preparing", "blocked", "acquiring", "queued", "running", "finished", "aborting",
  "waitrecover", "racquiring", "recovering", "raborting", "recovered", "failed",
]);

const enc = (s: string) => encodeURIComponent(s);
const dec = (s: string) => decodeURIComponent(s);

export function formatTask(t: Task): string {
  const lines = [
    `id = ${t.id}`,
    `name = ${enc(t.name)}`,
    `tag = ${enc(t.tag)}`,
    `state = ${t.state}`,
    `code = ${t.code}`,
    `message = ${enc(t.message)}`,
    `njobs = 1`,
    `nrecoveries = ${t.nrecoveries}`,
    `progress = ${Math.round(t.progress)}`,
  ];
  for (const [i, r] of t.recoveries.entries()) lines.push(`recover.${i} = ${enc(r.what)}|${enc(r.action)}|${r.params.map(enc).join(",")}`);
  return `${lines.join("\n")}\n`;
}

export function parseTask(text: string): Task {
  const f = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(" = ");
    if (i > 0) f.set(line.slice(0, i).trim(), line.slice(i + 3).trim());
  }
  const id = f.get("id") ?? "";
  if (!UUID_RE.test(id)) throw new Error(`task file without a valid id`);
  const t = new Task(id, dec(f.get("name") ?? "unknown"), dec(f.get("tag") ?? "spm"), true);
  const state = f.get("state") ?? "init";
  t.state = (STATES.has(state) ? state : "running") as TaskState;
  t.code = Number(f.get("code") ?? 0) || 0;
  t.message = dec(f.get("message") ?? "");
  t.nrecoveries = Number(f.get("nrecoveries") ?? 0) || 0;
  t.progress = Number(f.get("progress") ?? 0) || 0;
  const recs: Recovery[] = [];
  for (let i = 0; f.has(`recover.${i}`); i++) {
    const [name, action, params] = (f.get(`recover.${i}`) ?? "").split("|");
    recs.push({ what: dec(name ?? ""), action: dec(action ?? ""), params: params ? params.split(",").map(dec) : [] });
  }
  t.recoveries = recs;
  return t;
}

export class TaskStore implements TaskSink {
  private readonly made = new Set<string>();

  constructor(readonly dir: string) {}

  async save(t: Task): Promise<void> {
    await this.ensureDir(t.id);
    await atomicWrite(join(this.dir, t.id, `${t.id}.task`), formatTask(t), { mode: 0o644 });
  }

  async stage(t: Task): Promise<{ commit(): Promise<void> }> {
    await this.ensureDir(t.id);
    return stageWrite(join(this.dir, t.id, `${t.id}.task`), formatTask(t), { mode: 0o644, suffix: ".fin" });
  }

  private async ensureDir(id: string): Promise<void> {
    if (this.made.has(id)) return;
    guardWrite(join(this.dir, id), "mkdir task");
    await mkdir(join(this.dir, id), { recursive: true, mode: 0o755 });
    this.made.add(id);
  }

  async remove(id: string): Promise<void> {
    this.made.delete(id);
    try {
      guardWrite(join(this.dir, id), "remove task");
    } catch {
      return; // no longer SPM: the record is the current SPM's to keep or clear
    }
    await rm(join(this.dir, id), { recursive: true, force: true });
  }

  /** Every readable task; unreadable ones are reported, not fatal. */
  async load(): Promise<{ tasks: Task[]; bad: string[] }> {
    const tasks: Task[] = [];
    const bad: string[] = [];
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch {
      return { tasks, bad };
    }
    for (const n of names) {
      if (!UUID_RE.test(n)) continue;
      try {
        tasks.push(parseTask(await readFile(join(this.dir, n, `${n}.task`), "utf8")));
        this.made.add(n);
      } catch (err) {
        bad.push(`${n}: ${(err as Error).message}`);
      }
    }
    return { tasks, bad };
  }
}
