/**
 * SafeLease: the SPM lock VDSM used for v0/v2 domains, driving Debian's `safelease` tool on a
 * 512-byte record (16-char owner + 16 hex µs stamp) in the master domain's `dom_md/leases`.
 * The holder renews every `renewMs`; a failed renewal, or one that comes too late to be safe,
 * marks the lease lost at once, so the holder stops acting before others may take over
 * (self-fencing). Never renews a lease after reporting it lost.
 */
import { VdsmError } from "@vela/protocol";
import { open } from "node:fs/promises";
import type { Logger } from "../../log.js";
import { CommandError, run } from "../../exec.js";
import type { AcquireOptions, ClusterLock, HeldLease, LeaseParams, LeaseRecord } from "./index.js";

const SAFELEASE = "/usr/bin/safelease";
const FREE_OWNER = "------FREE------";
/** safelease refuses op_max under 1000 ms. */
export const MIN_OP_MAX_MS = 1000;

function checkOwner(owner: string): string {
  if (!/^[A-Za-z0-9:._-]{1,16}$/.test(owner)) throw new VdsmError("InvalidParameter", `lease owner ${JSON.stringify(owner)}`);
  return owner;
}

export class SafeLease implements ClusterLock {
  readonly kind = "safelease";

  constructor(private readonly log: Logger) {}

  async init(path: string, offset: number): Promise<void> {
    try {
      await run([SAFELEASE, "release", "-f", "-o", String(offset), path, "0"], { log: this.log, timeoutMs: 30_000 });
    } catch (err) {
      throw new VdsmError("ClusterLockInitError", (err as Error).message);
    }
  }

  async inspect(path: string, offset: number): Promise<LeaseRecord> {
    const fh = await open(path, "r");
    try {
      const buf = Buffer.alloc(32);
      const { bytesRead } = await fh.read(buf, 0, 32, offset);
      if (bytesRead < 32) return { owner: null, stampUs: 0 };
      const owner = buf.subarray(0, 16).toString("latin1");
      const stamp = buf.subarray(16, 32).toString("latin1");
      if (owner === FREE_OWNER || !/^[0-9a-f]{16}$/i.test(stamp)) return { owner: null, stampUs: 0 };
      return { owner: owner.trimEnd(), stampUs: Number.parseInt(stamp, 16) };
    } finally {
      await fh.close();
    }
  }

  /**
   * safelease's acquire (read from its source and checked with the binary): it reads the record;
   * if another holder's stamp is there it sleeps lease + 6 × op_max ("backoff") and reads again,
   * failing without writing if the stamp changed (the holder renewed); otherwise, or at once for a
   * free record, it writes our stamp ("contend"), sleeps 2 × op_max and wins if the stamp is still
   * ours. So a dead holder is taken over lease + 8 × op_max after the acquire first read its last
   * stamp, and an acquire started early against a live holder fails harmlessly. With `-d` it
   * names each phase on stderr, which is how `opts.signal` knows whether killing it is safe.
   */
  async acquire(p: LeaseParams, owner: string, opts: AcquireOptions = {}): Promise<HeldLease> {
    checkOwner(owner);
    const opMax = Math.max(MIN_OP_MAX_MS, p.opMaxMs);
    const started = Date.now();
    const kill = new AbortController();
    let phase: "start" | "backoff" | "contend" = "start";
    let backoffAt = 0;
    let said = "";
    // Killed only in its back-off sleep, and not near its end (it writes right after it), so an
    // aborted acquire never leaves a stamp of ours behind.
    const abortIfSafe = () => {
      if (opts.signal?.aborted && phase === "backoff" && Date.now() - backoffAt < p.leaseMs + 4 * opMax) kill.abort();
    };
    const onStderr = (d: string) => {
      said = (said + d).slice(-4096);
      if (/contend: +curr tag/.test(said)) phase = "contend";
      else if (phase === "start" && /backoff: +curr tag/.test(said)) {
        phase = "backoff";
        backoffAt = Date.now();
      }
      abortIfSafe();
    };
    opts.signal?.addEventListener("abort", abortIfSafe, { once: true });
    let stamp: string;
    try {
      const r = await run([SAFELEASE, "acquire", "-d", "-o", String(p.offset), p.path, owner, String(p.leaseMs), String(opMax)], {
        log: this.log,
        timeoutMs: p.leaseMs + 12 * opMax + 10_000,
        onStderr,
        signal: kill.signal,
      });
      stamp = r.stdout.trim();
      if (!/^[0-9]+$/.test(stamp)) throw new Error(`no stamp printed (${JSON.stringify(stamp.slice(0, 40))})`);
    } catch (err) {
      const detail = kill.signal.aborted ? "aborted while waiting" : err instanceof CommandError ? `exit ${err.exitCode ?? err.signal}` : String(err);
      throw new VdsmError("AcquireLockFailure", `${p.path}: held by another host or unreachable (${detail})`);
    } finally {
      opts.signal?.removeEventListener("abort", abortIfSafe);
    }
    // safelease writes our stamp and then waits 2 × op_max to verify it held (measured: the
    // stamp is ~2 s old when acquire returns), so the lease is renewed at once: its age then
    // starts from a stamp written now, not from one the whole verify wait old.
    const renewedAt = Date.now();
    try {
      const r = await run([SAFELEASE, "renew", "-o", String(p.offset), "-t", stamp, p.path, owner, String(p.leaseMs), String(opMax)], {
        log: this.log,
        timeoutMs: Math.max(2 * opMax, p.leaseMs - 2 * opMax),
      });
      stamp = r.stdout.trim();
    } catch (err) {
      const detail = err instanceof CommandError ? `exit ${err.exitCode}` : String(err);
      throw new VdsmError("AcquireLockFailure", `${p.path}: lost right after acquire (${detail})`);
    }
    this.log.info({ path: p.path, owner, ms: Date.now() - started }, "lease acquired");
    return new SafeLeaseHolder(this.log, { ...p, opMaxMs: opMax }, owner, renewedAt, stamp);
  }
}

class SafeLeaseHolder implements HeldLease {
  private last: number;
  private stamp: string;
  private lost = false;
  private released = false;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private watchdog: NodeJS.Timeout;
  private readonly lostCbs: ((reason: string) => void)[] = [];

  constructor(
    private readonly log: Logger,
    private readonly p: LeaseParams,
    readonly owner: string,
    acquiredAt: number,
    stamp: string,
  ) {
    this.last = acquiredAt;
    this.stamp = stamp;
    this.schedule();
    // Safe horizon: others may take over once lease_ms has passed since our last stamp; stop
    // acting two I/O timeouts earlier so a write in flight cannot land after a takeover.
    const check = Math.min(1000, Math.max(100, Math.floor(p.renewMs / 2)));
    this.watchdog = setInterval(() => {
      if (Date.now() - this.last > this.p.leaseMs - 2 * this.p.opMaxMs) this.lose("lease not renewed within its safe horizon");
    }, check);
    this.watchdog.unref();
  }

  get params(): LeaseParams {
    return this.p;
  }

  lastRenewal(): number {
    return this.last;
  }

  onLost(cb: (reason: string) => void): void {
    if (this.lost) cb("already lost");
    else this.lostCbs.push(cb);
  }

  private schedule(): void {
    if (this.lost || this.released) return;
    this.timer = setTimeout(() => {
      this.inflight = this.renew();
    }, this.p.renewMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.lost || this.released) return;
    const before = Date.now();
    // Woken after the safe horizon (e.g. SIGSTOP): others may be taking over; never renew then.
    if (before - this.last > this.p.leaseMs - 2 * this.p.opMaxMs) {
      this.lose(`renewal due ${before - this.last} ms after the last one: past the safe horizon`);
      return;
    }
    const argv = [SAFELEASE, "renew", "-o", String(this.p.offset)];
    if (/^[0-9]+$/.test(this.stamp)) argv.push("-t", this.stamp);
    argv.push(this.p.path, this.owner, String(this.p.leaseMs), String(this.p.opMaxMs));
    try {
      const r = await run(argv, { timeoutMs: Math.max(2 * this.p.opMaxMs, this.p.leaseMs - 2 * this.p.opMaxMs) });
      if (this.released || this.lost) return;
      this.stamp = r.stdout.trim();
      this.last = before;
      this.schedule();
    } catch (err) {
      if (this.released) return;
      this.lose(`renewal failed: ${(err as Error).message.slice(0, 300)}`);
    }
  }

  abandon(reason: string): void {
    this.lose(reason);
  }

  private lose(reason: string): void {
    if (this.lost || this.released) return;
    this.lost = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.log.error({ path: this.p.path, owner: this.owner, reason }, "SPM lease lost: self-fencing");
    for (const cb of this.lostCbs.splice(0)) {
      try {
        cb(reason);
      } catch (err) {
        this.log.error({ err }, "lease-lost callback failed");
      }
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    // A renewal still running would write our stamp back after the release: let it finish.
    await this.inflight;
    if (this.lost) return; // someone else may hold it now: never clear their record
    try {
      await run([SAFELEASE, "release", "-o", String(this.p.offset), this.p.path, this.owner], { log: this.log, timeoutMs: 30_000 });
    } catch (err) {
      throw new VdsmError("ReleaseLockFailure", (err as Error).message);
    }
  }
}
