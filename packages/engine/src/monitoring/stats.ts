/**
 * The latest run-time figures the monitors collected: each host's getVdsStats answer and each
 * running VM's getAllVmStats entry, with when they were taken. Kept in memory, as oVirt's engine
 * keeps its statistics in memory and flushes them: they describe now, and a restarted engine has
 * them again after one poll. The statistics API (api/statistics.ts) reads them; each sample also
 * becomes a point of the last hour's history (history.ts) for the portal's charts.
 */
import type { HostStats, VmStats } from "@vela/protocol";
import type { Engine } from "../engine.js";
import { recordHostPoint, recordVmPoint } from "./history.js";

export interface Sample<T> {
  at: Date;
  stats: T;
  /** The sample before, for rates (bytes per second). */
  prev?: { at: Date; stats: T };
}

interface Store {
  hosts: Map<string, Sample<HostStats>>;
  vms: Map<string, Sample<VmStats>>;
}

const stores = new WeakMap<Engine, Store>();

function store(e: Engine): Store {
  let s = stores.get(e);
  if (!s) {
    s = { hosts: new Map(), vms: new Map() };
    stores.set(e, s);
  }
  return s;
}

export function recordHostStats(e: Engine, hostId: string, stats: HostStats): void {
  store(e).hosts.set(hostId, { at: new Date(), stats });
  recordHostPoint(e, hostId, stats);
}

export function recordVmStats(e: Engine, vmId: string, stats: VmStats): void {
  const old = store(e).vms.get(vmId);
  store(e).vms.set(vmId, { at: new Date(), stats, prev: old ? { at: old.at, stats: old.stats } : undefined });
  recordVmPoint(e, vmId, stats);
}

/** A VM that is down has no run-time figures. */
export function forgetVmStats(e: Engine, vmId: string): void {
  store(e).vms.delete(vmId);
}

export function hostStats(e: Engine, hostId: string): Sample<HostStats> | undefined {
  return store(e).hosts.get(hostId);
}

export function vmStats(e: Engine, vmId: string): Sample<VmStats> | undefined {
  return store(e).vms.get(vmId);
}

/** Every running VM's latest sample, by VM id (the metrics endpoint reads them all at once). */
export function allVmStats(e: Engine): ReadonlyMap<string, Sample<VmStats>> {
  return store(e).vms;
}

/** A drive's counters in a VM's latest sample and in the one before. */
export interface DriveSample {
  at: Date;
  drive: Record<string, string>;
  prev?: { at: Date; drive: Record<string, string> };
}

/** The drive of this sample whose image is `diskId`, with that drive's counters before. */
export function driveSample(s: Sample<VmStats>, diskId: string): DriveSample | undefined {
  const find = (st: VmStats) => Object.values(st.disks ?? {}).find((d) => d.imageID === diskId);
  const drive = find(s.stats);
  if (!drive) return undefined;
  const before = s.prev ? find(s.prev.stats) : undefined;
  return { at: s.at, drive, prev: s.prev && before ? { at: s.prev.at, drive: before } : undefined };
}

/** The running VM whose drive is this disk (image id), with that drive's counters. */
export function diskStats(e: Engine, diskId: string): DriveSample | undefined {
  for (const s of store(e).vms.values()) {
    const d = driveSample(s, diskId);
    if (d) return d;
  }
  return undefined;
}
