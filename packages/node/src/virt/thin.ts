/**
 * Keeps a running VM's thin drives ahead of the guest (VDSM's drive monitor, event-driven):
 * each thin drive's file node gets a QMP write threshold at `allocation − 80 % of a step` (VDSM's
 * `volume_utilization_percent` 20: extend while 80 % of a chunk is still free); when QEMU reports
 * BLOCK_WRITE_THRESHOLD the volume is extended by a step (storage decides how: locally on the SPM,
 * through the mailbox elsewhere), and the threshold is armed again. A step is one chunk
 * (`volume_utilization_chunk_mb`), doubled (up to 4 chunks) after an extension that came late —
 * the guest used more than half of its headroom while it ran — and halved again after one that
 * came early, as VDSM doubles its chunk where it knows extension lags (live storage migration).
 * The watch starts before the guest runs: thresholds are armed (VDSM sets them at VM start), and a
 * drive with no more than one chunk of LV gets its first extension then, so the guest's first
 * burst meets a full chunk of room instead of racing the first mailbox round trip. A guest that
 * outruns extension pauses with ENOSPC (QEMU's werror=enospc): the drive is extended and the VM
 * resumed here, and the pause is counted. A check every 2 s is the safety net for a lost event.
 */
import type { ImageService, ThinAllocation } from "../api/services.js";
import type { Logger } from "../log.js";
import type { QmpClient } from "../qemu/qmp.js";
import type { DriveRecord } from "./rundir.js";

const CHECK_MS = 2000;
/** Extend when less than this share of a step is left (VDSM: threshold = size − 2048 MiB at a 2560 MiB chunk). */
const FREE_SHARE = 0.8;
/** Most chunks one extension asks for, after late ones. */
const MAX_STEP = 4;
/** How long a VM start waits for the first extension before letting the guest run anyway. */
const FIRST_EXTEND_WAIT_MS = 15_000;

interface ThinDrive extends ThinAllocation {
  rec: DriveRecord;
  /** Chunks per extension now (1 … MAX_STEP). */
  step: number;
  /** An extension in flight (one at a time per drive). */
  busy?: Promise<void>;
  /** Why the last extension failed (cleared by the next one that succeeds). */
  error?: string;
}

export interface ThinCounters {
  extensions: number;
  /** ENOSPC pauses seen (the guest outran extension); one per pause, however many I/O errors it had. */
  pauses: number;
  /** VDSM's pauseCode while the guest is paused on ENOSPC by us ("ENOSPC"), else undefined. */
  pauseCode?: "ENOSPC";
  /** Time spent paused on ENOSPC (ms), ended pauses only. */
  pausedMs: number;
  /** Why the guest cannot get room (the last failed extension), while that lasts. */
  error?: string;
}

export class ThinWatch {
  readonly counters: ThinCounters = { extensions: 0, pauses: 0, pausedMs: 0 };
  private pausedAt = 0;
  private readonly drives = new Map<string, ThinDrive>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly qmp: QmpClient,
    private readonly images: ImageService,
    private readonly log: Logger,
  ) {}

  /**
   * Finds the thin drives and arms their thresholds; a VM without thin drives costs nothing.
   * `beforeGuest`: the guest has not run yet, so a drive of one chunk or less is extended now
   * (waited for at most FIRST_EXTEND_WAIT_MS; a failure leaves it to the threshold and the check).
   */
  async start(drives: readonly DriveRecord[], beforeGuest = false): Promise<void> {
    const images = this.images;
    if (!images.allocation || !images.extend) return;
    for (const rec of drives) {
      const a = await images.allocation(rec).catch((err: unknown) => this.log.warn({ err: String(err), volUUID: rec.volumeID }, "cannot read a drive's allocation"));
      if (a) this.drives.set(rec.fileNode, { ...a, rec, step: 1 });
    }
    if (!this.drives.size) return;
    this.qmp.on("BLOCK_WRITE_THRESHOLD", this.onThreshold);
    this.qmp.on("BLOCK_IO_ERROR", this.onIoError);
    for (const t of this.drives.values()) await this.arm(t);
    if (beforeGuest) {
      const first = [...this.drives.values()].filter((t) => t.allocated <= t.chunk).map((t) => this.kick(t));
      let timer: NodeJS.Timeout | undefined;
      const wait = new Promise<void>((r) => {
        timer = setTimeout(r, FIRST_EXTEND_WAIT_MS);
      });
      await Promise.race([Promise.all(first), wait]).finally(() => clearTimeout(timer));
      if (first.length) this.log.info({ drives: [...this.drives.values()].map((t) => ({ vol: t.rec.volumeID, allocated: t.allocated })) }, "thin drives extended before the guest runs");
    }
    this.timer = setInterval(() => void this.check(), CHECK_MS);
    this.timer.unref();
    void this.qmp.closed.then(() => this.stop());
    this.log.info({ drives: [...this.drives.values()].map((t) => ({ vol: t.rec.volumeID, allocated: t.allocated, capacity: t.capacity })) }, "watching thin drives");
  }

  /** A drive's capacity grew (a live disk extension): its cap follows, and room is made if needed. */
  async resized(volumeID: string, capacity: number): Promise<void> {
    for (const t of this.drives.values()) {
      if (t.rec.volumeID !== volumeID) continue;
      t.capacity = Math.max(t.capacity, capacity);
      await this.arm(t);
    }
  }

  private readonly onThreshold = (ev: { "node-name": string }) => void this.kick(this.drives.get(ev["node-name"]));
  private readonly onIoError = (ev: { nospace?: boolean }) => {
    if (ev.nospace) void this.onEnospc();
  };

  /** Stops watching; the QMP handlers go too (a live snapshot replaces the watch with one on the new tops). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.qmp.off("BLOCK_WRITE_THRESHOLD", this.onThreshold);
    this.qmp.off("BLOCK_IO_ERROR", this.onIoError);
  }

  private limit(t: ThinDrive): number {
    // VDSM's cap for a thin volume: capacity × 1.1 (qcow2 metadata).
    return Math.ceil(t.capacity * 1.1);
  }

  private threshold(t: ThinDrive): number {
    return Math.max(0, t.allocated - Math.floor(t.chunk * t.step * FREE_SHARE));
  }

  private async arm(t: ThinDrive): Promise<void> {
    if (this.stopped || t.allocated >= this.limit(t)) return;
    await this.qmp.blockSetWriteThreshold(t.rec.fileNode, this.threshold(t)).catch((err: unknown) => this.log.warn({ err: String(err), node: t.rec.fileNode }, "block-set-write-threshold failed"));
  }

  /** One extension at a time per drive; callers during one wait for it. */
  private kick(t: ThinDrive | undefined): Promise<void> {
    if (!t || this.stopped) return Promise.resolve();
    t.busy ??= this.extend(t).finally(() => {
      t.busy = undefined;
    });
    return t.busy;
  }

  private async extend(t: ThinDrive): Promise<void> {
    const want = Math.min(t.allocated + t.chunk * t.step, this.limit(t));
    if (want <= t.allocated || !this.images.extend) return;
    const t0 = performance.now();
    const before = t.allocated;
    const headroom = Math.floor(t.chunk * t.step * FREE_SHARE);
    try {
      t.allocated = await this.images.extend(t.rec, want);
      this.counters.extensions++;
      t.error = undefined;
      this.counters.error = [...this.drives.values()].find((d) => d.error)?.error;
    } catch (err) {
      // A full domain or a lost SPM: the guest pauses on ENOSPC, stays paused, and the check retries.
      t.error = err instanceof Error ? err.message : String(err);
      this.counters.error = t.error;
      this.log.error({ err: t.error, volUUID: t.rec.volumeID, want }, "thin volume extension failed");
      return;
    }
    await this.arm(t);
    // Event (or check) → LV extended → device refreshed → threshold re-armed: the figure bench/ measures.
    const ms = Number((performance.now() - t0).toFixed(1));
    await this.resumeIfEnospc();
    // The next step is sized after the re-arm (a QMP query a guest need not wait for); a new
    // step moves the threshold, so it is armed again.
    const was = t.step;
    const step = await this.adapt(t, before, headroom);
    if (t.step !== was) await this.arm(t);
    this.log.info({ volUUID: t.rec.volumeID, allocated: t.allocated, step, ms }, "thin drive extended and re-armed");
  }

  /**
   * Sizes the next step by how this extension went: the room the guest had left in the old LV
   * when it ended (its highest write offset against the old size). Under half the headroom left
   * (or none: a pause) → it came late, double the step; over 90 % left → early, halve it.
   */
  private async adapt(t: ThinDrive, before: number, headroom: number): Promise<{ left: number; chunks: number } | undefined> {
    const hi = (await this.qmp.queryBlockstats(true).catch(() => [])).find((e) => e["node-name"] === t.rec.fileNode)?.stats.wr_highest_offset;
    if (hi === undefined || headroom <= 0) return undefined;
    const left = Math.max(0, before - hi) / headroom;
    if (left < 0.5) t.step = Math.min(MAX_STEP, t.step * 2);
    else if (left > 0.9) t.step = Math.max(1, t.step / 2);
    return { left: Number(left.toFixed(2)), chunks: t.step };
  }

  private async onEnospc(): Promise<void> {
    if (this.stopped) return;
    // QEMU reports every failed request; one pause may bring many of them.
    if (this.counters.pauseCode !== "ENOSPC") {
      this.counters.pauses++;
      this.counters.pauseCode = "ENOSPC";
      this.pausedAt = performance.now();
      this.log.warn({ pauses: this.counters.pauses }, "guest paused on ENOSPC: extending its thin drives");
    }
    for (const t of this.drives.values()) await this.kick(t);
    await this.resumeIfEnospc();
  }

  private async resumeIfEnospc(): Promise<void> {
    const st = await this.qmp.queryStatus().catch(() => undefined);
    if (st?.status !== "io-error") return;
    // Resume only when every thin drive got room; otherwise the VM stays paused with its reason
    // (resuming would only fail the same write again: a pause/resume cycle every check).
    const stuck = [...this.drives.values()].find((t) => t.error);
    if (stuck) {
      this.counters.pauseCode = "ENOSPC";
      return;
    }
    await this.qmp.cont().catch((err: unknown) => this.log.warn({ err: String(err) }, "resume after extension failed"));
    const ms = this.pausedAt ? performance.now() - this.pausedAt : 0;
    this.counters.pausedMs += ms;
    this.counters.pauseCode = undefined;
    this.pausedAt = 0;
    this.log.info({ pausedMs: Math.round(ms) }, "guest resumed after extension");
  }

  /** The safety net: a drive past its threshold (event lost) or a VM paused on ENOSPC. */
  private async check(): Promise<void> {
    if (this.stopped) return;
    try {
      const st = await this.qmp.queryStatus();
      // Paused on ENOSPC (its event may have been lost): count it, retry the extensions, resume if room.
      if (st.status === "io-error") return void (await this.onEnospc());
      const stats = await this.qmp.queryBlockstats(true);
      for (const e of stats) {
        const t = e["node-name"] ? this.drives.get(e["node-name"]) : undefined;
        if (t && e.stats.wr_highest_offset > this.threshold(t)) await this.kick(t);
      }
    } catch {
      // QMP gone: the VM is going down.
    }
  }
}
