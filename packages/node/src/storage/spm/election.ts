/**
 * SPM self-election: with no live SPM, the connected hosts of a pool contend for the SPM lease by
 * themselves (the engine may be down). Each host looks, every tick, at the SPM lease record (is
 * its holder still renewing?) and at the host records in `dom_md/ids` (who is alive, who is
 * already contending, with what priority).
 *
 * Held lease: the host ranked first among the others (highest priority, then lowest host id; the
 * holder's own host does not count) keeps a *standby* acquire running against the holder's
 * latest stamp (cluster.ts restarts it at every renewal it sees). safelease's acquire fails
 * without writing when the stamp changes during its wait, so against a live holder it is
 * harmless; against a dead one it wins lease + 8 × op_max after that holder's last renewal, the
 * earliest safelease allows, with no detection delay. Lower-ranked hosts step in only if that
 * did not happen (the first-ranked host died too): one back-off per rank after that time.
 * Free lease (new pool, clean spmStop): the first-ranked host contends after one back-off of
 * grace (so an engine-driven spmStart on the host it chose wins), the others one back-off later
 * per rank.
 * The lease itself (safelease) decides who wins if two contend anyway; this module only avoids
 * useless contention. Never contends while this host is SPM or contending, has priority 0 or has
 * auto-election off, or within the hold-off after an explicit spmStop (so the engine can move the
 * role to the host it chose).
 */
import type { HostView } from "../lease/hostid.js";
import type { LeaseRecord } from "../lease/index.js";
import { hostOfOwner } from "./spm.js";

export interface ElectionTimings {
  /** The SPM lease time. */
  leaseMs: number;
  /** How often the SPM renews its lease. */
  renewMs: number;
  /** Longest single I/O (safelease op_max). */
  opMaxMs: number;
  /** Wait per rank before a lower-ranked host contends. */
  backoffMs: number;
}

export interface ElectionInput {
  now: number;
  me: { hostID: number; priority: number; autoElect: boolean; role: "Free" | "Contend" | "SPM" };
  /** The SPM lease record and how long ago (local clock) its stamp last changed. */
  lease: LeaseRecord & { unchangedMs: number };
  hosts: HostView[];
  /** When this host first saw no live SPM (undefined while one is live). */
  noSpmSince: number | undefined;
  /** No self-election before this time (after an explicit spmStop). */
  holdUntil: number;
  t: ElectionTimings;
}

export type Decision =
  | { action: "wait"; reason: string }
  | { action: "contend"; reason: string }
  /** Keep a standby acquire running against the holder's latest stamp. */
  | { action: "standby"; reason: string };

/** How long after a dead holder's last stamp safelease lets another host take the lease over. */
export function takeoverMs(t: ElectionTimings): number {
  return t.leaseMs + 8 * t.opMaxMs;
}

/**
 * Whether the lease holder is renewing: its stamp changed within one renewal and one I/O (status
 * and the lower ranks' fallback; the standby acquire does not wait for this).
 */
export function holderAlive(lease: ElectionInput["lease"], t: ElectionTimings): boolean {
  return lease.owner !== null && lease.unchangedMs <= t.renewMs + t.opMaxMs;
}

/**
 * How many live, willing hosts outrank `me` (higher priority; equal priority, lower id). Hosts in
 * `exclude` (the lease holder's) and hosts that say they are SPM (live or frozen, they will not
 * contend) do not count.
 */
export function rankOf(me: ElectionInput["me"], hosts: HostView[], exclude: ReadonlySet<number> = new Set()): number {
  return hosts.filter(
    (h) =>
      h.hostID !== me.hostID &&
      !exclude.has(h.hostID) &&
      h.state !== "spm" &&
      h.live &&
      h.autoElect &&
      h.priority > 0 &&
      (h.priority > me.priority || (h.priority === me.priority && h.hostID < me.hostID)),
  ).length;
}

export function decide(i: ElectionInput): Decision {
  if (i.me.role !== "Free") return { action: "wait", reason: `this host is ${i.me.role}` };
  if (!i.me.autoElect || i.me.priority <= 0) return { action: "wait", reason: "self-election off for this host" };
  if (i.now < i.holdUntil) return { action: "wait", reason: "hold-off after spmStop" };
  const alive = holderAlive(i.lease, i.t);
  if (i.lease.owner !== null) {
    const holder = hostOfOwner(i.lease.owner);
    const rank = rankOf(i.me, i.hosts, new Set(holder === undefined ? [] : [holder]));
    const state = alive ? "renewing" : `silent for ${i.lease.unchangedMs} ms`;
    if (rank === 0) return { action: "standby", reason: `rank 0: standby acquire against ${i.lease.owner} (${state})` };
    if (alive) return { action: "wait", reason: `SPM lease held by ${i.lease.owner}, rank ${rank}` };
    const contender = i.hosts.find((h) => h.hostID !== i.me.hostID && h.live && h.state === "contend");
    if (contender) return { action: "wait", reason: `host ${contender.hostID} is contending` };
    // The first-ranked host's standby should have won by takeoverMs; it may be dead too.
    const wait = takeoverMs(i.t) + rank * i.t.backoffMs;
    if (i.lease.unchangedMs < wait) return { action: "wait", reason: `rank ${rank}: lease holder ${state}; stepping in after ${wait} ms` };
    return { action: "contend", reason: `SPM lease holder ${i.lease.owner} ${state} and nobody took over, rank ${rank}` };
  }
  // A live contender is let finish (its acquire decides).
  const contender = i.hosts.find((h) => h.hostID !== i.me.hostID && h.live && h.state === "contend");
  if (contender) return { action: "wait", reason: `host ${contender.hostID} is contending` };
  const since = i.noSpmSince ?? i.now;
  const rank = rankOf(i.me, i.hosts);
  // A free lease (clean spmStop, new pool) gets one back-off of grace so an engine-driven
  // spmStart on the host it chose wins.
  const wait = i.t.backoffMs + rank * i.t.backoffMs;
  if (i.now - since < wait) return { action: "wait", reason: `rank ${rank}: back-off ${wait - (i.now - since)} ms` };
  return { action: "contend", reason: `no SPM (lease free), rank ${rank}` };
}

/** Tracks the SPM lease record's stamp on the local clock, so a holder's liveness needs no clock sync. */
export class LeaseWatch {
  private last: { owner: string | null; stampUs: number; changedAt: number } | undefined;

  observe(rec: LeaseRecord, now = Date.now()): LeaseRecord & { unchangedMs: number } {
    const p = this.last;
    let changedAt: number;
    if (!p) changedAt = rec.owner === null ? now : Math.min(now, Math.floor(rec.stampUs / 1000));
    else if (p.owner !== rec.owner || p.stampUs !== rec.stampUs) changedAt = now;
    else changedAt = p.changedAt;
    this.last = { owner: rec.owner, stampUs: rec.stampUs, changedAt };
    return { ...rec, unchangedMs: now - changedAt };
  }
}
