/**
 * Host capabilities and statistics as VDSM reported them (getVdsCapabilities / getVdsStats),
 * read from /proc and os each time: the node caches nothing it could get wrong.
 */
import { existsSync, readFileSync } from "node:fs";
import { cpus, freemem, loadavg, release, totalmem, uptime } from "node:os";
import type { HostCapabilities, HostStats } from "@vela/protocol";
import type { NodeConfig } from "../config.js";
import { run } from "../exec.js";

export const SOFTWARE_VERSION = "0.1.0";

function osRelease(): { name: string; version: string; release: string } {
  try {
    const txt = readFileSync("/etc/os-release", "utf8");
    const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, "m").exec(txt)?.[1] ?? "";
    return { name: get("NAME"), version: get("VERSION_ID"), release: release() };
  } catch {
    return { name: "Linux", version: "", release: release() };
  }
}

/** QEMU's version, asked once per agent ("" when QEMU does not answer in time). */
let qemuVersion: Promise<string> | undefined;
function qemu(): Promise<string> {
  qemuVersion ??= run(["qemu-system-x86_64", "--version"], { timeoutMs: 10_000 }).then(
    (r) => /version ([0-9.]+)/.exec(r.stdout)?.[1] ?? "",
    () => "",
  );
  return qemuVersion;
}

export async function capabilities(config: NodeConfig): Promise<HostCapabilities> {
  const cpu = cpus();
  return {
    uuid: config.hostUuid,
    hostName: config.hostName,
    software_version: SOFTWARE_VERSION,
    software_revision: "1",
    version_name: "Vela node",
    supportedENGINEs: ["4.4", "4.5"],
    clusterLevels: ["4.4", "4.5"],
    cpuCores: String(cpu.length),
    cpuThreads: String(cpu.length),
    cpuSockets: "1",
    cpuModel: cpu[0]?.model ?? "unknown",
    cpuSpeed: String(cpu[0]?.speed ?? 0),
    memSize: String(Math.floor(totalmem() / 2 ** 20)),
    kvmEnabled: String(existsSync("/dev/kvm")),
    vmTypes: ["kvm"],
    operatingSystem: osRelease(),
    packages2: { "qemu-kvm": { version: await qemu() }, vela: { version: SOFTWARE_VERSION } },
    storageDomainTypes: ["LOCALFS", "POSIXFS", "NFS"],
  };
}

let lastCpu: { idle: number; total: number; user: number; sys: number } | undefined;
function cpuPercent(): { cpuUser: string; cpuSys: string; cpuIdle: string } {
  let idle = 0;
  let total = 0;
  let user = 0;
  let sys = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    user += c.times.user + c.times.nice;
    sys += c.times.sys + c.times.irq;
    total += c.times.idle + c.times.user + c.times.nice + c.times.sys + c.times.irq;
  }
  const prev = lastCpu ?? { idle: 0, total: 0, user: 0, sys: 0 };
  lastCpu = { idle, total, user, sys };
  const dt = total - prev.total || 1;
  const pct = (x: number) => ((100 * x) / dt).toFixed(2);
  return { cpuUser: pct(user - prev.user), cpuSys: pct(sys - prev.sys), cpuIdle: pct(idle - prev.idle) };
}

/** Swap, buffers and page cache in MiB from /proc/meminfo (the rest comes from node:os). */
function meminfo(): Record<string, string> {
  let text = "";
  try {
    text = readFileSync("/proc/meminfo", "utf8");
  } catch {
    return {};
  }
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  const mib = (key: string) => String(Math.floor(kib(key) / 1024));
  return { swapTotal: mib("SwapTotal"), swapFree: mib("SwapFree"), memBuffers: mib("Buffers"), memCached: mib("Cached") };
}

export function stats(): HostStats {
  const memTotal = Math.floor(totalmem() / 2 ** 20);
  const memFree = Math.floor(freemem() / 2 ** 20);
  return {
    ...cpuPercent(),
    cpuLoad: loadavg()[0]!.toFixed(2),
    memFree: String(memFree),
    memAvailable: String(memFree),
    memUsed: String(Math.round((100 * (memTotal - memFree)) / memTotal)),
    memTotal: String(memTotal),
    ...meminfo(),
    elapsedTime: String(Math.floor(process.uptime())),
    hostUptime: String(Math.floor(uptime())),
  };
}
