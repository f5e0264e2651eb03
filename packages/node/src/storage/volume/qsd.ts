/**
 * qemu-storage-daemon: one long-lived QEMU storage process per agent, driven over QMP, that
 * formats new qcow2 volume files with a `blockdev-create` job — the same QEMU block driver
 * `qemu-img create` runs, byte-identical output, without forking the ~85 MiB agent and exec'ing
 * qemu-img for each small create (that fork+exec was most of a createVolume's cost above bare
 * qemu-img).
 *
 * Never keeps an image open beyond one create (VMs, qemu-img and other hosts open it next), never
 * opens a backing file (the name is written as given, like `qemu-img create -u`), and never
 * outlives the agent: it runs under a parent-death signal, so a kill -9 of the agent takes it
 * along. When the daemon is missing or dies, callers fall back to spawning qemu-img.
 */
import type { ChildProcess } from "node:child_process";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { startDaemon } from "../../exec.js";
import type { Logger } from "../../log.js";
import { QmpClient, type QmpEvent } from "../../qemu/qmp.js";

const DAEMON = "qemu-storage-daemon";
/** util-linux's setpriv sets PR_SET_PDEATHSIG for the daemon before it execs. */
const SETPRIV = "setpriv";
/** A create job that has not ended by then is given up (qemu-img's limit in qemuimg.ts). */
const JOB_TIMEOUT_MS = 600_000;

export interface DaemonCreateOpts {
  backing?: { file: string; format: "qcow2" | "raw" };
  preallocation?: "off" | "falloc";
}

/** The daemon is gone (or never came up): the caller may retry the same work another way. */
export class DaemonUnavailable extends Error {
  constructor(why: string) {
    super(`qemu-storage-daemon unavailable: ${why}`);
    this.name = "DaemonUnavailable";
  }
}

interface JobWaiter {
  /** Set when the job passed through "aborting" (it failed or was cancelled). */
  failed: boolean;
  resolve(failed: boolean): void;
  reject(e: Error): void;
}

export class StorageDaemon {
  private readonly jobs = new Map<string, JobWaiter>();
  private seq = 0;
  private alive = true;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly qmp: QmpClient,
    private readonly log: Logger,
  ) {
    qmp.on("event", (ev: QmpEvent) => this.onEvent(ev));
    void qmp.closed.then(() => this.gone("QMP connection closed"));
    proc.once("exit", (code, signal) => this.gone(`exited (${signal ?? code})`));
  }

  /** Starts the daemon with its QMP socket in `runDir`; undefined when it cannot run here. */
  static async start(runDir: string, log: Logger): Promise<StorageDaemon | undefined> {
    const sock = join(runDir, "qsd.qmp");
    await rm(sock, { force: true });
    const argv = [SETPRIV, "--pdeathsig", "KILL", DAEMON, "--chardev", `socket,id=qmp,path=${sock},server=on,wait=off`, "--monitor", "chardev=qmp"];
    const proc = startDaemon(argv, log);
    let stderr = "";
    // Only what it says at start-up is kept (for the warning below); later output is dropped.
    proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 2000) stderr += d.slice(0, 2000);
    });
    try {
      const qmp = await connectWhenReady(sock, proc);
      log.info({ pid: proc.pid }, "qemu-storage-daemon ready");
      return new StorageDaemon(proc, qmp, log);
    } catch (err) {
      proc.kill("SIGKILL");
      log.warn({ err: (err as Error).message, stderr: stderr.trim() }, "qemu-storage-daemon not started: creating images with qemu-img");
      return undefined;
    }
  }

  get usable(): boolean {
    return this.alive;
  }

  /**
   * Creates `path` as a new, empty qcow2 image of `size` bytes, with the header and layout of
   * `qemu-img create -f qcow2 -o compat=1.1`. The agent creates (truncates) the file itself and
   * hands it over as `/proc/<agent pid>/fd/<n>`: QEMU's monitor reads its socket one byte per
   * poll, so every byte of a command costs a few system calls, and a domain path is long.
   */
  async createQcow2(path: string, size: number, o: DaemonCreateOpts = {}): Promise<void> {
    if (!this.alive) throw new DaemonUnavailable("not running");
    const fh = await open(path, "w", 0o660);
    try {
      // The file node is given inline: QEMU opens it for the job and drops it when the job ends.
      const qcow2: Record<string, unknown> = { driver: "qcow2", file: { driver: "file", filename: `/proc/${process.pid}/fd/${fh.fd}` }, size, version: "v3" };
      if (o.preallocation && o.preallocation !== "off") qcow2.preallocation = o.preallocation;
      if (o.backing) Object.assign(qcow2, { "backing-file": o.backing.file, "backing-fmt": o.backing.format });
      await this.job(`j${++this.seq}`, qcow2);
    } finally {
      await fh.close();
    }
  }

  close(): void {
    this.alive = false;
    this.qmp.close();
    this.proc.kill("SIGTERM");
  }

  /** Runs one blockdev-create job to its end and dismisses it; rejects with the job's error. */
  private async job(id: string, options: Record<string, unknown>): Promise<void> {
    // Registered before the command: the job may conclude before its answer arrives.
    const done = new Promise<boolean>((resolve, reject) => this.jobs.set(id, { failed: false, resolve, reject }));
    done.catch(() => {});
    try {
      await this.call(() => this.qmp.blockdevCreate(id, options));
    } catch (err) {
      this.jobs.delete(id);
      throw err;
    }
    // As long as a qemu-img create may run (exec.ts timeout); a job that outlives it is left to
    // end in the daemon (its file is the task's to remove) and dismissed when it does.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${String(options.driver)} create: no end in ${JOB_TIMEOUT_MS} ms`)), JOB_TIMEOUT_MS);
    });
    let failed: boolean;
    try {
      failed = await Promise.race([done, timeout]);
    } catch (err) {
      const w = this.jobs.get(id);
      if (w) w.resolve = () => void this.call(() => this.qmp.jobDismiss(id)).catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    // Only a failed job (it passed through "aborting") is asked for its error.
    const error = failed ? ((await this.call(() => this.qmp.queryJobs())).find((j) => j.id === id)?.error ?? "failed") : undefined;
    await this.call(() => this.qmp.jobDismiss(id));
    if (error) throw new Error(`${String(options.driver)} create: ${error}`);
  }

  private onEvent(ev: QmpEvent): void {
    if (ev.event !== "JOB_STATUS_CHANGE") return;
    const data = ev.data as { id?: string; status?: string };
    const w = data.id ? this.jobs.get(data.id) : undefined;
    if (!w || !data.id) return;
    if (data.status === "aborting") w.failed = true;
    if (data.status !== "concluded") return;
    w.resolve(w.failed);
    this.jobs.delete(data.id);
  }

  /** A QMP call; a closed connection becomes DaemonUnavailable so the caller can fall back. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.alive) throw new DaemonUnavailable("not running");
    try {
      return await fn();
    } catch (err) {
      if (!this.alive) throw new DaemonUnavailable((err as Error).message);
      throw err;
    }
  }

  private gone(why: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.log.warn({ why }, "qemu-storage-daemon gone: creating images with qemu-img");
    for (const w of this.jobs.values()) w.reject(new DaemonUnavailable(why));
    this.jobs.clear();
    this.qmp.close();
  }
}

/**
 * Keeps one daemon running for the agent: starts it on first use and again after it died, with a
 * pause after a failed start so a host without the daemon does not pay a start per create.
 */
export class DaemonSupervisor {
  private current: StorageDaemon | undefined;
  private starting: Promise<StorageDaemon | undefined> | undefined;
  private nextTry = 0;
  private closed = false;

  constructor(
    private readonly runDir: string,
    private readonly log: Logger,
    private readonly retryMs = 30_000,
  ) {}

  /** The running daemon, or undefined when there is none right now (use qemu-img). */
  async get(): Promise<StorageDaemon | undefined> {
    if (this.current?.usable) return this.current;
    if (this.closed || Date.now() < this.nextTry) return undefined;
    this.starting ??= StorageDaemon.start(this.runDir, this.log).then((d) => {
      this.current = d;
      this.starting = undefined;
      if (!d) this.nextTry = Date.now() + this.retryMs;
      if (d && this.closed) d.close();
      return d;
    });
    return this.starting;
  }

  close(): void {
    this.closed = true;
    this.current?.close();
  }
}

/** The socket appears a few ms after the exec; poll for it until the daemon answers or exits. */
async function connectWhenReady(sock: string, proc: ChildProcess): Promise<QmpClient> {
  let exited = false;
  proc.once("exit", () => (exited = true));
  proc.once("error", () => (exited = true));
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await QmpClient.connect(sock, { timeoutMs: 5_000 });
    } catch (err) {
      if (exited) throw new Error("daemon exited at start");
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
