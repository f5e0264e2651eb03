/**
 * The engine's pid file in VELA_HOME: written when the API is ready, removed on a clean stop.
 * Tools that must not run beside a live engine (restore) read it; a stale file (the engine was
 * killed) names a dead or foreign process and counts as "not running".
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function enginePidFile(home: string): string {
  return join(home, "engine.pid");
}

export function writeEnginePid(home: string): void {
  writeFileSync(enginePidFile(home), `${process.pid}\n`);
}

export function removeEnginePid(home: string): void {
  rmSync(enginePidFile(home), { force: true });
}

/** The pid of a live engine process using this home, or undefined. */
export function runningEnginePid(home: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(enginePidFile(home), "utf8"), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // A recycled pid is some other program: only a vela engine counts.
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmd.includes("engine") ? pid : undefined;
  } catch {
    return undefined;
  }
}
