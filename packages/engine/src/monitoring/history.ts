/**
 * The last hour of each host's and running VM's figures, for the portal's charts: at most one
 * point per HISTORY_STEP_MS taken from what the monitors record (stats.ts), kept in memory only
 * (like the latest figures: an engine restart starts the hour afresh). A point holds what the
 * charts draw: CPU percent, memory used in bytes, network receive/transmit and disk read/write
 * in bytes per second (rates from the sample before; absent where the source has no counter).
 */
import type { HostStats, VmStats } from "@vela/protocol";
import type { Engine } from "../engine.js";

export interface Point {
  /** Epoch milliseconds. */
  t: number;
  cpu: number;
  mem: number;
  rx?: number;
  tx?: number;
  read?: number;
  write?: number;
}

export const HISTORY_MS = 60 * 60 * 1000;
/** One point per this long at most: 360 points an hour per object, whatever the poll rate. */
const HISTORY_STEP_MS = 10_000;
const MiB = 2 ** 20;

interface Series {
  points: Point[];
  /** Counters of the last raw sample, for rates. */
  last?: { t: number; rx: number; tx: number; read: number; write: number };
}

const stores = new WeakMap<Engine, Map<string, Series>>();

function series(e: Engine, key: string): Series {
  let m = stores.get(e);
  if (!m) {
    m = new Map();
    stores.set(e, m);
  }
  let s = m.get(key);
  if (!s) {
    s = { points: [] };
    m.set(key, s);
  }
  return s;
}

const num = (v: unknown): number => {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};

function push(s: Series, p: Point): void {
  const lastPoint = s.points[s.points.length - 1];
  if (lastPoint && p.t - lastPoint.t < HISTORY_STEP_MS) s.points[s.points.length - 1] = { ...p, t: lastPoint.t };
  else s.points.push(p);
  const oldest = p.t - HISTORY_MS;
  let drop = 0;
  while (drop < s.points.length && (s.points[drop] as Point).t < oldest) drop++;
  if (drop) s.points.splice(0, drop);
}

const rate = (cur: number, prev: number | undefined, seconds: number): number | undefined =>
  prev === undefined || seconds <= 0 ? undefined : cur < prev ? 0 : Math.round((cur - prev) / seconds);

export function recordHostPoint(e: Engine, hostId: string, st: HostStats): void {
  const s = series(e, `host:${hostId}`);
  const x = st as HostStats & Record<string, unknown>;
  const total = num(x.memTotal) * MiB;
  push(s, { t: Date.now(), cpu: Math.max(0, 100 - num(st.cpuIdle)), mem: Math.max(0, total - num(st.memFree) * MiB) });
}

export function recordVmPoint(e: Engine, vmId: string, st: VmStats): void {
  const s = series(e, `vm:${vmId}`);
  const x = st as VmStats & Record<string, unknown>;
  const t = Date.now();
  const nets = Object.values((x.network ?? {}) as Record<string, Record<string, string>>);
  const drives = Object.values(st.disks ?? {});
  const now = {
    t,
    rx: nets.reduce((a, n) => a + num(n.rx), 0),
    tx: nets.reduce((a, n) => a + num(n.tx), 0),
    read: drives.reduce((a, d) => a + num(d.readBytes), 0),
    write: drives.reduce((a, d) => a + num(d.writtenBytes), 0),
  };
  const prev = s.last;
  const dt = prev ? (t - prev.t) / 1000 : 0;
  s.last = now;
  push(s, {
    t,
    cpu: Math.round((num(x.cpuUser) + num(x.cpuSys)) * 100) / 100,
    mem: num(x.memRss) * 1024,
    rx: rate(now.rx, prev?.rx, dt),
    tx: rate(now.tx, prev?.tx, dt),
    read: rate(now.read, prev?.read, dt),
    write: rate(now.write, prev?.write, dt),
  });
}

/** The points of the last hour, oldest first. */
export function history(e: Engine, kind: "host" | "vm", id: string): Point[] {
  const s = stores.get(e)?.get(`${kind}:${id}`);
  if (!s) return [];
  const oldest = Date.now() - HISTORY_MS;
  return s.points.filter((p) => p.t >= oldest);
}

/** A removed host or VM takes its hour with it. */
export function forgetHistory(e: Engine, kind: "host" | "vm", id: string): void {
  stores.get(e)?.delete(`${kind}:${id}`);
}
