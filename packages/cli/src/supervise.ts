/**
 * Supervision for `vela up`: keeps one engine or node agent process running the way systemd's
 * Restart=always does on a real host. A process that dies after it was ready is started again
 * after an exponential back-off (capped, reset once a run stayed up for a stable period), so a
 * process that dies at once on every start cannot become a restart storm. Every exit and restart
 * is said on stderr (the `vela up` console) and in the process's own log file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { step } from "./progress.js";

export interface Backoff {
  /** Delay before the first restart after a stable run. */
  initialMs: number;
  /** Upper bound of the doubling delay. */
  maxMs: number;
  /** A run at least this long counts as stable: the next restart starts from initialMs again. */
  stableMs: number;
}

/** Defaults: first restart after 0.5 s, then 1, 2, 4 … up to 30 s; a run of 60 s resets it. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000, stableMs: 60_000 };

/** The delay before restart number `failures` (0-based count of quick deaths in a row). */
export function backoffDelay(b: Backoff, failures: number): number {
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(failures, 30));
}

export interface SuperviseOptions {
  name: string;
  main: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  backoff?: Backoff;
}

/** One supervised process: started once by `start()`, restarted on death until `stop()`. */
export class Supervised {
  private proc?: ChildProcess;
  private readonly log: WriteStream;
  private stopping = false;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private readonly backoff: Backoff;
  /** Number of restarts so far (tests and the log read it). */
  restarts = 0;
  /** Called with the READY line of every start after the first (the restarts). */
  onRestarted?: (readyLine: string) => void;

  constructor(private readonly o: SuperviseOptions) {
    this.backoff = o.backoff ?? DEFAULT_BACKOFF;
    this.log = createWriteStream(o.logFile, { flags: "a" });
  }

  /** The current process id (changes on every restart). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** First start; resolves with its READY line, rejects when it exits before being ready. */
  start(): Promise<string> {
    return this.spawnOnce();
  }

  private spawnOnce(): Promise<string> {
    const proc = spawn(process.execPath, [this.o.main], { env: { ...process.env, ...this.o.env }, stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    const startedAt = Date.now();
    proc.stderr!.on("data", (d: Buffer) => this.log.write(d));
    let buf = "";
    let ready = false;
    const firstLine = new Promise<string>((res, rej) => {
      proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
        this.log.write(d);
        if (ready) return;
        buf += d;
        const m = /^VELA-[A-Z]+-READY.*$/m.exec(buf);
        if (m) {
          ready = true;
          buf = "";
          res(m[0]);
        }
      });
      proc.once("exit", (code, signal) => {
        if (!ready) rej(new Error(`${this.o.name} exited (${signal ?? code}) before it was ready; see ${this.o.logFile}`));
        this.onExit(proc, code, signal, ready, Date.now() - startedAt);
      });
    });
    return firstLine;
  }

  private onExit(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null, wasReady: boolean, ranMs: number): void {
    // Only a process that was ready once is restarted: one that cannot start at all is a
    // configuration problem the first start reports (and `vela up` fails with it).
    if (this.stopping || proc !== this.proc || (!wasReady && this.restarts === 0)) return;
    if (ranMs >= this.backoff.stableMs) this.failures = 0;
    const delay = backoffDelay(this.backoff, this.failures);
    this.failures++;
    this.restarts++;
    const msg = `${this.o.name} (pid ${proc.pid}) died (${signal ?? `exit ${code}`}) after ${(ranMs / 1000).toFixed(1)} s; starting it again in ${delay / 1000} s (restart ${this.restarts})`;
    step(msg);
    this.note(msg);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopping) return;
      this.spawnOnce().then(
        (line) => {
          const back = `${this.o.name} is back (pid ${this.proc?.pid})`;
          step(back);
          this.note(back);
          this.onRestarted?.(line);
        },
        // Its exit handler already scheduled the next try.
        () => undefined,
      );
    }, delay);
  }

  private note(msg: string): void {
    this.log.write(`${JSON.stringify({ level: 40, time: Date.now(), name: "vela-up", msg })}\n`);
  }

  /**
   * From now on an exit is expected: no restart, no "died" line. `vela up` calls this on every
   * process before stopping any, because a signal to its process group reaches the children
   * directly too, and one may exit while another is still being stopped.
   */
  quiesce(): void {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops the process (SIGTERM, then SIGKILL after 10 s) and any pending restart. */
  async stop(): Promise<void> {
    this.quiesce();
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      await new Promise<void>((res) => {
        p.once("exit", () => res());
        p.kill("SIGTERM");
        setTimeout(() => p.kill("SIGKILL"), 10_000).unref();
      });
    }
    await new Promise<void>((res) => this.log.end(() => res()));
  }
}
