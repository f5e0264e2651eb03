/**
 * The cluster lock behind the SPM role, as a small interface so the lock kind can change
 * (safelease today; a sanlock-like delta lease, fencing or an election later) without touching
 * the pool or SPM code. A held lease renews itself and reports loss through `onLost`; whoever
 * holds one must stop acting on shared metadata the moment it is lost.
 */

export interface LeaseParams {
  /** Where the lease lives (a file or device) and the record's byte offset. */
  path: string;
  offset: number;
  /** Longest time the holder may go without renewing before others may take over. */
  leaseMs: number;
  /** Longest time one I/O may take. */
  opMaxMs: number;
  /** How often the holder renews. */
  renewMs: number;
}

export interface HeldLease {
  readonly owner: string;
  /** The timings it was acquired with (its holder's safe horizon is computed from them). */
  readonly params: LeaseParams;
  /** ms since epoch of the last successful renewal. */
  lastRenewal(): number;
  /** Called once if the lease is lost (renewal failed or was too late); the lease is then dead. */
  onLost(cb: (reason: string) => void): void;
  /** Stops renewing and frees the lease on storage. */
  release(): Promise<void>;
  /**
   * Stops renewing and never touches the record again (self-fencing: another host may be taking
   * the lease over right now, and a release could wipe its record).
   */
  abandon(reason: string): void;
}

export interface LeaseRecord {
  /** Holder id, or null when free. */
  owner: string | null;
  /** Holder's last timestamp in µs (0 when free). */
  stampUs: number;
}

export interface AcquireOptions {
  /**
   * Gives up the acquire, but only while it is still waiting and has written nothing (for
   * safelease: waiting out the holder's stamp); an acquire that may already have written runs to
   * its end, and the caller must then release or use the lease it returns.
   */
  signal?: AbortSignal;
}

export interface ClusterLock {
  readonly kind: string;
  /** Formats the lease record as free (domain or pool creation only). */
  init(path: string, offset: number): Promise<void>;
  /** Blocks until the lease is ours (waiting out a dead holder) or throws AcquireLockFailure. */
  acquire(params: LeaseParams, owner: string, opts?: AcquireOptions): Promise<HeldLease>;
  /** Reads the record without taking it. */
  inspect(path: string, offset: number): Promise<LeaseRecord>;
}

export { SafeLease } from "./safelease.js";
