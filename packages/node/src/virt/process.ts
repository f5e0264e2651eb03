/**
 * QEMU processes as the node sees them: they are not the agent's children (QEMU daemonizes so VMs
 * outlive the agent), so liveness is read from /proc and identity checked on the command line
 * before anything is signalled — a pid from a stale pidfile may belong to someone else by now.
 * Never signals a process whose command line does not name the VM's own QMP socket.
 */
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { pathOpt } from "./config/qemuopt.js";

/** True when the process exists (a zombie counts as gone). */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // state is the field after the parenthesised command name
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** True when pid is a live QEMU started for this VM (its argv holds the VM's QMP socket path). */
export async function isVmProcess(pid: number, qmpSocket: string): Promise<boolean> {
  if (!(await alive(pid))) return false;
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    const opt = pathOpt(qmpSocket);
    return argv.some((a) => a.includes(`${opt},`) || a.endsWith(opt));
  } catch {
    return false;
  }
}

/** Waits until the process is gone; false on timeout. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Signals a process if it is still this VM's QEMU. */
export async function signalVm(pid: number, qmpSocket: string, signal: NodeJS.Signals): Promise<boolean> {
  if (!(await isVmProcess(pid, qmpSocket))) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
