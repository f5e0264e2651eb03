/** Process inspection for tests: find QEMU processes by what is on their command line. */
import { readdirSync, readFileSync } from "node:fs";

export function findProcesses(...needles: string[]): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
      continue;
    }
    const line = argv.join(" ");
    if (needles.every((n) => line.includes(n))) out.push({ pid: Number(e), argv });
  }
  return out;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, stepMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
