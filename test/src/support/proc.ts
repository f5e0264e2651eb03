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
