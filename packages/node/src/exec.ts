/**
 * The one runner for external commands (qemu-img, lvm, safelease, mount, ip, QEMU's probes). It
 * never uses a shell, always has a timeout, logs the argv, and turns failures into CommandError
 * with stderr, so callers map them to typed storage errors. Long-lived helpers (the storage
 * daemon) are started here too, by `startDaemon`, and bounded by their owner's start-up wait.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { setPriority } from "node:os";
import type { Logger } from "./log.js";

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(`${argv[0]} failed (${signal ?? `exit ${exitCode}`}): ${stderr.trim().slice(0, 2000)}`);
    this.name = "CommandError";
  }
}

export interface RunOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Called with each chunk of stdout (progress parsing). */
  onStdout?: (chunk: string) => void;
  /** Called with each chunk of stderr (a tool's phase, e.g. safelease -d). */
  onStderr?: (chunk: string) => void;
  /** Kills the command (SIGKILL) when aborted; the promise then rejects with a CommandError. */
  signal?: AbortSignal;
  /**
   * A nice value for the command (set right after it starts; ignored where the agent may not
   * raise priority). For short commands a guest waits on, e.g. a thin extension's lvextend.
   */
  nice?: number;
}

/** Default limit of a command's run time. */
export const DEFAULT_TIMEOUT_MS = 120_000;

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * The nice value VDSM's daemon runs at (`vdsm_nice` -5), so the lvm commands it starts get it too:
 * Vela gives it to the commands a paused or soon-to-pause guest waits on, not to the whole agent
 * (QEMU and data copies it starts keep the default).
 */
export const URGENT_NICE = -5;

/** Sets a process's nice value; a host that refuses (no CAP_SYS_NICE) keeps the default. */
export function setNice(pid: number, nice: number): void {
  try {
    setPriority(pid, nice);
  } catch {
    // not permitted here: the command runs at the default priority
  }
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("run: empty argv");
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    if (opts.nice !== undefined && child.pid !== undefined) setNice(child.pid, opts.nice);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      opts.onStdout?.(d);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      opts.onStderr?.(d);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const abort = () => child.kill("SIGKILL");
    if (opts.signal?.aborted) abort();
    else opts.signal?.addEventListener("abort", abort, { once: true });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, String(err), null));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", abort);
      opts.log?.debug({ argv, code, signal, ms: Date.now() - started }, "command");
      if (code === 0) resolvePromise({ stdout, stderr });
      else reject(new CommandError(argv, code, stderr, signal));
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/**
 * Runs a command until its output (stdout and stderr, last 8 KiB) contains `marker`, then kills
 * it: for a program whose success is a line it prints while it keeps running (a QEMU probe).
 * Resolves with whether the marker came before the timeout or the command's end, and the tail.
 */
export async function runUntil(
  argv: readonly string[],
  marker: string,
  opts: { timeoutMs: number; log?: Logger },
): Promise<{ seen: boolean; tail: string }> {
  const stop = new AbortController();
  let tail = "";
  const onData = (d: string) => {
    // Keep only the tail: a kernel prints tens of KiB and only the end matters.
    tail = (tail + d).slice(-8192);
    if (tail.includes(marker)) stop.abort();
  };
  try {
    await run(argv, { timeoutMs: opts.timeoutMs, log: opts.log, onStdout: onData, onStderr: onData, signal: stop.signal });
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    // Killed at the marker, at the timeout, or it failed: the output says which.
  }
  return { seen: tail.includes(marker), tail };
}

/**
 * Starts a long-lived helper process (no shell, argv logged) whose lifetime its caller owns: the
 * caller bounds its start-up (waits for it to answer, with a deadline) and kills it on close.
 * Its stdin and stdout are closed; stderr is piped for the caller's start-up diagnostics.
 */
export function startDaemon(argv: readonly string[], log?: Logger): ChildProcess {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("startDaemon: empty argv");
  log?.debug({ argv }, "daemon start");
  return spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
}
