/**
 * The one runner for external commands (qemu-img, lvm, safelease, mount, ip). It never uses a
 * shell, always has a timeout, logs the argv, and turns failures into CommandError with stderr,
 * so callers map them to typed storage errors.
 */
import { spawn } from "node:child_process";
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
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("run: empty argv");
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
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
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
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
