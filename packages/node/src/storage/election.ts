/**
 * SPM self-election: with no live SPM, the connected hosts of a pool contend for the SPM lease by
 * themselves (the engine may be down). Each host looks, every tick, at the SPM lease record (is
 * its holder still renewing?) and at the host records in `dom_md/ids` (who is alive, who is
 * already contending, with what priority). The host ranked first (highest priority, then lowest
 * host id) contends at once; the others wait a back-off per rank and defer to any live contender.
 * The lease itself (safelease) decides who wins if two contend anyway; this module only avoids
 * useless contention. Never contends while this host is SPM or contending, has priority 0 or has
 * auto-election off, or within the hold-off after an explicit spmStop (so the engine can move the
 * role to the host it chose).
 */
import type { HostView } from "./hostid.js";
import type { LeaseRecord } from "./lease/index.js";

export interface ElectionTimings {
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
  | { action: "contend"; reason: string };

/**
 * Whether the lease holder is renewing: its stamp changed within one renewal and one I/O. A
 * holder that is merely late makes a contender start safelease's acquire early, which fails
 * harmlessly once the holder renews; a dead one is replaced sooner.
 */
export function holderAlive(lease: ElectionInput["lease"], t: ElectionTimings): boolean {
  return lease.owner !== null && lease.unchangedMs <= t.renewMs + t.opMaxMs;
}

/** How many live, willing hosts outrank `me` (higher priority; equal priority, lower id). */
export function rankOf(me: ElectionInput["me"], hosts: HostView[]): number {
  return hosts.filter(
    (h) =>
      h.hostID !== me.hostID &&
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
  if (holderAlive(i.lease, i.t)) return { action: "wait", reason: `SPM lease held by ${i.lease.owner}` };
  // A live contender is let finish (its acquire decides); a host still saying "spm" while its lease
  // is not renewed is frozen or dead, so it is not waited for.
  const contender = i.hosts.find((h) => h.hostID !== i.me.hostID && h.live && h.state === "contend");
  if (contender) return { action: "wait", reason: `host ${contender.hostID} is contending` };
  const since = i.noSpmSince ?? i.now;
  const rank = rankOf(i.me, i.hosts);
  // A free lease (clean spmStop, new pool) gets one back-off of grace so an engine-driven
  // spmStart on the host it chose wins; a dead holder's lease is contended at once by rank 0.
  const grace = i.lease.owner === null ? i.t.backoffMs : 0;
  const wait = grace + rank * i.t.backoffMs;
  if (i.now - since < wait) return { action: "wait", reason: `rank ${rank}: back-off ${wait - (i.now - since)} ms` };
  return {
    action: "contend",
    reason: i.lease.owner === null ? `no SPM (lease free), rank ${rank}` : `SPM lease holder ${i.lease.owner} stopped renewing ${i.lease.unchangedMs} ms ago, rank ${rank}`,
  };
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
