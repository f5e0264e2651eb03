/**
 * CPU time of processes as the kernel counts it (/proc/PID/stat), for benchmarks that say what a
 * case cost each process beside its wall time.
 */
import { readFileSync } from "node:fs";

/**
 * CPU seconds (user + system) a process used so far; `children`: those of its reaped children
 * instead. Clock ticks of 1/100 s; after the name, utime/stime are fields [11]/[12] and
 * cutime/cstime [13]/[14] (stat(5) fields 14–17).
 */
export function cpuSeconds(pid: number | "self", children = false): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const at = children ? 13 : 11;
  return (Number(f[at]) + Number(f[at + 1])) / 100;
}
