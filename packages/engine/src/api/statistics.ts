/**
 * oVirt's statistics representation (`<statistics><statistic>`: name, description, kind gauge or
 * counter, type integer/decimal, unit, values/value/datum, and the owner's reference) built from
 * the figures the monitors collected (monitoring/stats.ts). Names and units are oVirt's: host
 * memory.* and swap.* in bytes, cpu.current.* in percent; VM memory.installed/used, cpu.current.
 * guest/hypervisor/total; NIC data.current.rx/tx (bytes per second) and data.total.*, errors.total.*;
 * disk data.current.read/write and disk.*.latency. An object with no sample yet (a VM that is down) reports zeros.
 */
import { createHash } from "node:crypto";
import type { HostStats, VmStats } from "@vela/protocol";
import type { DriveSample, Sample } from "../monitoring/stats.js";
import type { Rep } from "./repr.js";

type Unit = "bytes" | "percent" | "seconds" | "bytes_per_second" | "none";

export interface Stat {
  name: string;
  description: string;
  kind: "gauge" | "counter";
  unit: Unit;
  value: number;
}

const g = (name: string, description: string, unit: Unit, value: number): Stat => ({ name, description, kind: "gauge", unit, value });
const c = (name: string, description: string, unit: Unit, value: number): Stat => ({ name, description, kind: "counter", unit, value });

const num = (v: unknown): number => {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};
const MiB = 2 ** 20;

/** A statistic's id: stable per owner and name (oVirt derives it from the name too). */
function statId(owner: string, name: string): string {
  const h = createHash("sha1").update(`${owner}/${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The collection; `owner` is the reference member (`{ host: ref }`, `{ vm: ref }`, …). */
export function statisticsRep(ownerId: string, owner: Rep, stats: Stat[]): Rep[] {
  return stats.map((s) => ({
    id: statId(ownerId, s.name),
    name: s.name,
    description: s.description,
    kind: s.kind,
    type: Number.isInteger(s.value) ? "integer" : "decimal",
    unit: s.unit,
    values: { value: [{ datum: s.value }] },
    ...owner,
  }));
}

export function hostStatistics(s: Sample<HostStats> | undefined): Stat[] {
  const st: Partial<HostStats> & Record<string, unknown> = s?.stats ?? {};
  const total = num(st.memTotal) * MiB;
  const free = num(st.memFree) * MiB;
  const swapTotal = num(st.swapTotal) * MiB;
  const swapFree = num(st.swapFree) * MiB;
  return [
    g("memory.total", "Total memory", "bytes", total),
    g("memory.used", "Used memory", "bytes", Math.max(0, total - free)),
    g("memory.free", "Free memory", "bytes", free),
    g("memory.shared", "Shared memory", "bytes", 0),
    g("memory.buffers", "I/O buffers", "bytes", num(st.memBuffers) * MiB),
    g("memory.cached", "OS caches", "bytes", num(st.memCached) * MiB),
    g("swap.total", "Total swap", "bytes", swapTotal),
    g("swap.free", "Free swap", "bytes", swapFree),
    g("swap.used", "Used swap", "bytes", Math.max(0, swapTotal - swapFree)),
    g("cpu.current.user", "User CPU usage", "percent", num(st.cpuUser)),
    g("cpu.current.system", "System CPU usage", "percent", num(st.cpuSys)),
    g("cpu.current.idle", "Idle CPU usage", "percent", num(st.cpuIdle)),
    g("cpu.load.avg.5m", "CPU 5 minute load average", "none", num(st.cpuLoad)),
    g("boot.time", "Boot time of the host", "seconds", Math.max(0, Math.floor(Date.now() / 1000) - num(st.hostUptime))),
  ];
}

/**
 * A VM's used and free memory: what its guest reports through the balloon driver when it does
 * (total − available), else what the balloon leaves it minus nothing known, else QEMU's RSS.
 */
function vmMemory(st: Partial<VmStats>, installed: number, rss: number, sampled: boolean): { used: number; free: number } {
  const guest = st.memoryStats;
  if (guest?.mem_total && guest.mem_free) {
    const total = num(guest.mem_total) * 1024;
    const free = num(guest.mem_free) * 1024;
    return { used: Math.max(0, Math.min(installed, total - free)), free: Math.max(0, installed - Math.min(installed, total - free)) };
  }
  const used = Math.min(installed, rss);
  return { used, free: sampled ? Math.max(0, installed - used) : 0 };
}

/** The balloon's figures (oVirt's memory.buffered/cached come from the guest; these are Vela's). */
function balloonStatistics(st: Partial<VmStats>): Stat[] {
  const b = st.balloonInfo;
  if (!b) return [];
  return [
    g("memory.balloon.current", "Memory the balloon leaves the guest", "bytes", num(b.balloon_cur) * 1024),
    g("memory.balloon.target", "Balloon target", "bytes", num(b.balloon_target) * 1024),
    g("memory.balloon.min", "Least memory the balloon leaves", "bytes", num(b.balloon_min) * 1024),
  ];
}

export function vmStatistics(s: Sample<VmStats> | undefined, memSizeMiB: number): Stat[] {
  const st: Partial<VmStats> & Record<string, unknown> = s?.stats ?? {};
  const installed = memSizeMiB * MiB;
  const guest = num(st.cpuUser);
  const hyp = num(st.cpuSys);
  const rss = num(st.memRss) * 1024;
  const { used, free } = vmMemory(st, installed, rss, s !== undefined);
  return [
    g("memory.installed", "Total memory configured", "bytes", installed),
    g("memory.used", "Memory used (agent)", "bytes", used),
    g("memory.free", "Memory free (agent)", "bytes", free),
    ...balloonStatistics(st),
    g("cpu.current.guest", "CPU used by guest", "percent", guest),
    g("cpu.current.hypervisor", "CPU overhead", "percent", hyp),
    g("cpu.current.total", "Total CPU used", "percent", Math.round((guest + hyp) * 100) / 100),
    c("cpu.usage.history", "Cumulative CPU time", "none", num(st.cpuUsage)),
    g("elapsed.time", "Time since the VM started", "seconds", num(st.elapsedTime)),
    g("migration.progress", "Migration progress", "percent", 0),
  ];
}

const rate = (cur: number, prev: number | undefined, seconds: number): number => (prev === undefined || seconds <= 0 || cur < prev ? 0 : Math.round((cur - prev) / seconds));

/** A VM NIC's entry in a sample's `network` (per tap: rx/tx bytes, errors, drops), found by MAC. */
export function nicEntry(st: VmStats | undefined, mac: string): Record<string, string> | undefined {
  return Object.values((st?.network ?? {}) as Record<string, Record<string, string>>).find((n) => n.macAddr?.toLowerCase() === mac.toLowerCase());
}

/** A VM NIC's figures, found by MAC in the VM's `network` entries. */
export function nicStatistics(s: Sample<VmStats> | undefined, mac: string): Stat[] {
  const cur = nicEntry(s?.stats, mac) ?? {};
  const prev = s?.prev ? nicEntry(s.prev.stats, mac) : undefined;
  const dt = s?.prev ? (s.at.getTime() - s.prev.at.getTime()) / 1000 : 0;
  return [
    g("data.current.rx", "Receive data rate", "bytes_per_second", rate(num(cur.rx), prev ? num(prev.rx) : undefined, dt)),
    g("data.current.tx", "Transmit data rate", "bytes_per_second", rate(num(cur.tx), prev ? num(prev.tx) : undefined, dt)),
    c("data.total.rx", "Total received data", "bytes", num(cur.rx)),
    c("data.total.tx", "Total transmitted data", "bytes", num(cur.tx)),
    c("errors.total.rx", "Total receive errors", "none", num(cur.rxErrors)),
    c("errors.total.tx", "Total transmit errors", "none", num(cur.txErrors)),
  ];
}

/** A disk's figures from the drive of the running VM that has it. */
export function diskStatistics(d: DriveSample | undefined): Stat[] {
  const cur = d?.drive ?? {};
  const dt = d?.prev ? (d.at.getTime() - d.prev.at.getTime()) / 1000 : 0;
  return [
    g("data.current.read", "Read data rate", "bytes_per_second", rate(num(cur.readBytes), d?.prev ? num(d.prev.drive.readBytes) : undefined, dt)),
    g("data.current.write", "Write data rate", "bytes_per_second", rate(num(cur.writtenBytes), d?.prev ? num(d.prev.drive.writtenBytes) : undefined, dt)),
    c("data.total.read", "Total data read", "bytes", num(cur.readBytes)),
    c("data.total.write", "Total data written", "bytes", num(cur.writtenBytes)),
    c("disk.read.operations", "Read operations", "none", num(cur.readOps)),
    c("disk.write.operations", "Write operations", "none", num(cur.writeOps)),
    g("disk.read.latency", "Read latency", "seconds", latency(d, "readTimeNs", "readOps")),
    g("disk.write.latency", "Write latency", "seconds", latency(d, "writeTimeNs", "writeOps")),
    g("disk.flush.latency", "Flush latency", "seconds", latency(d, "flushTimeNs", "flushOps")),
  ];
}

/**
 * The mean time of the operations completed between the last two samples (as VDSM reports
 * readLatency/writeLatency/flushLatency), in seconds; 0 when none completed.
 */
function latency(d: DriveSample | undefined, timeNs: string, ops: string): number {
  if (!d?.prev) return 0;
  const n = num(d.drive[ops]) - num(d.prev.drive[ops]);
  const t = num(d.drive[timeNs]) - num(d.prev.drive[timeNs]);
  return n > 0 && t >= 0 ? t / n / 1e9 : 0;
}
