/**
 * The engine's one runner of the `openssl` command (Debian's OpenSSL 3), used by the PKI only:
 * no shell, a timeout on every call, stderr in the error. Private keys are written by openssl
 * itself (mode 0600) and never pass through this process's memory or logs.
 */
import { spawn } from "node:child_process";

/** A PKI operation failed; `code` is stable for callers and logs. */
export class PkiError extends Error {
  readonly code = "PKI_FAILED";
  constructor(message: string) {
    super(message);
    this.name = "PkiError";
  }
}

const TIMEOUT_MS = 20_000;

/** Runs `openssl args…` with `input` on stdin; resolves with stdout. */
export function openssl(args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new PkiError(`openssl could not run (install Debian's openssl): ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new PkiError(`openssl ${args[0]} failed (${signal ?? `exit ${code}`}): ${err.trim().slice(0, 500)}`));
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}
