/**
 * A resident `lvm` process in shell mode (as lvm's own D-Bus service runs it): commands are
 * written to its stdin one line each, and each answers one JSON object on stdout with its report
 * and its command log, whose last entry is the command's status. It saves what every lvm process
 * pays before doing anything — its start, loading its libraries, parsing its configuration:
 * 66 vs 150 ms per lvextend at load 13, measured here. Each command still scans the devices and
 * reads the on-disk metadata afresh and takes lvm's file locks, exactly as a new process does, so
 * other hosts' commits are seen. The command log needs settings `--config` cannot carry, so the
 * shell reads its own lvm.conf from a private directory (LVM_SYSTEM_DIR); every command still
 * passes the agent's full `--config`. One command at a time; a shell that stops answering is
 * killed and the next command starts another.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CommandError, setNice } from "../../exec.js";
import type { Logger } from "../../log.js";
import { Mutex } from "../sync.js";

/** What the shell's lvm.conf adds to lvm's defaults: a JSON command log with statuses and errors. */
const SHELL_CONF = [
  "log {",
  "  report_command_log = 1",
  '  command_log_selection = "log_type=status || log_type=error"',
  "}",
  "report {",
  '  output_format = "json"',
  "}",
  "shell {",
  "  history_size = 0",
  "}",
  "",
].join("\n");

/** An argument the shell's line splitter takes as is, or in single quotes. */
const PLAIN = /^[A-Za-z0-9_./:=+,@%-]+$/;

interface LogRow {
  log_type?: string;
  log_context?: string;
  log_object_type?: string;
  log_message?: string;
  log_ret_code?: string;
}

/** Whether every argument can go through the shell (no quote or line break to escape). */
export function shellable(args: readonly string[]): boolean {
  return args.every((a) => a.length > 0 && !/['\n\r\\]/.test(a));
}

export class LvmShell {
  private child?: ChildProcessWithoutNullStreams;
  private buf = "";
  private depth = 0;
  private inStr = false;
  private esc = false;
  private waiter?: (obj: Record<string, unknown> | Error) => void;
  private readonly lock = new Mutex();

  /**
   * @param dir a private directory for the shell's lvm.conf (and its HOME)
   * @param nice the shell's priority (VDSM's for the one thin extensions use)
   */
  constructor(
    private readonly log: Logger,
    private readonly dir: string,
    private readonly nice?: number,
  ) {}

  private start(): ChildProcessWithoutNullStreams {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.dir, "lvm.conf"), SHELL_CONF);
    const c = spawn("lvm", [], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LVM_SYSTEM_DIR: this.dir, HOME: this.dir, LVM_SUPPRESS_FD_WARNINGS: "1" } });
    if (this.nice !== undefined && c.pid !== undefined) setNice(c.pid, this.nice);
    c.stdout.setEncoding("utf8").on("data", (d: string) => this.onData(d));
    // Warnings ("not backed up", "activation disabled") only: errors come in the command log.
    c.stderr.on("data", () => undefined);
    c.on("exit", () => {
      if (this.child === c) this.child = undefined;
      this.answer(new Error("the lvm shell exited"));
    });
    c.on("error", () => undefined);
    // Never keeps the agent alive; lvm ends at EOF on its stdin.
    c.unref();
    for (const s of [c.stdin, c.stdout, c.stderr]) (s as unknown as { unref?: () => void }).unref?.();
    this.buf = "";
    this.depth = 0;
    this.inStr = false;
    this.esc = false;
    this.child = c;
    return c;
  }

  private answer(v: Record<string, unknown> | Error): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(v);
  }

  /** Stdout holds one JSON object per command: braces are counted outside strings to find its end. */
  private onData(d: string): void {
    for (const ch of d) {
      if (this.depth > 0) this.buf += ch;
      if (this.inStr) {
        if (this.esc) this.esc = false;
        else if (ch === "\\") this.esc = true;
        else if (ch === '"') this.inStr = false;
      } else if (ch === '"') {
        this.inStr = this.depth > 0;
      } else if (ch === "{") {
        if (this.depth++ === 0) this.buf = ch;
      } else if (ch === "}" && this.depth > 0 && --this.depth === 0) {
        const text = this.buf;
        this.buf = "";
        try {
          this.answer(JSON.parse(text) as Record<string, unknown>);
        } catch (err) {
          this.answer(new Error(`unreadable lvm shell output: ${(err as Error).message}`));
        }
      }
    }
  }

  /** Runs one command (argv without "lvm"); answers what `lvm … --reportformat json` would print. */
  run(args: readonly string[], timeoutMs: number): Promise<string> {
    return this.lock.run(async () => {
      const c = this.child ?? this.start();
      const line = args.map((a) => (PLAIN.test(a) ? a : `'${a}'`)).join(" ");
      const started = Date.now();
      const obj = await new Promise<Record<string, unknown> | Error>((resolve) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          c.kill("SIGKILL");
          resolve(new Error(`no answer in ${timeoutMs} ms`));
        }, timeoutMs);
        this.waiter = (v) => {
          clearTimeout(timer);
          resolve(v);
        };
        c.stdin.write(`${line}\n`);
      });
      const argv = ["lvm", ...args];
      if (obj instanceof Error) throw new CommandError(argv, null, obj.message, null);
      const rows = (obj.log ?? []) as LogRow[];
      const status = rows.filter((r) => r.log_context === "shell" && r.log_object_type === "cmd").pop();
      this.log.debug({ argv: args.slice(0, 1), shell: true, ms: Date.now() - started, ok: status?.log_ret_code === "1" }, "command");
      if (status?.log_ret_code !== "1") {
        const errors = rows.filter((r) => r.log_type === "error").map((r) => r.log_message ?? "");
        throw new CommandError(argv, Number(status?.log_ret_code ?? 5), errors.join("\n") || `lvm ${args[0]} failed`, null);
      }
      return JSON.stringify({ report: obj.report ?? [] });
    });
  }
}
