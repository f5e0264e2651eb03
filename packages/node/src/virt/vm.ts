/**
 * One VM as the node knows it: its record (what it was asked to run), its QEMU process and QMP
 * connection, and its exit once it is Down. Status and statistics are read from QMP on every
 * request — the node keeps no guessed state — and a VM becomes Down only when its QEMU process is
 * really gone. Never starts QEMU (launch.ts does) and never frees resources (destroy does).
 */
import type { VmJob, VmStats, VmSummary } from "@vela/protocol";
import type { Logger } from "../log.js";
import { CDROM_ID } from "./cdrom.js";
import { balloonActualKiB, balloonMinKiB, guestMemoryStats } from "./mom/balloon.js";
import { VNC_LISTEN } from "./config/display.js";
import { alive, waitGone } from "./process.js";
import { nicCounters, vmCpu, vmRssKiB } from "./usage.js";
import { type QmpBlockStatsEntry, type QmpClient, QmpClosedError } from "../qemu/qmp.js";
import { type ExitInfo, type VmPaths, type VmRecord, writeRecord } from "./rundir.js";
import { ExitReason, fromQemuStatus, type VmStatus } from "./status.js";
import type { ThinWatch } from "./thin.js";

/** How long QEMU may take between closing QMP and leaving the process table. */
const EXIT_GRACE_MS = 10_000;

export class Vm {
  pid?: number;
  qmp?: QmpClient;
  vncPort?: number;
  /** Address the VNC server listens on, as query-vnc reports it. */
  vncHost?: string;
  /** Set while the node is starting QEMU; settles when it is running or has failed. */
  launching?: Promise<void>;
  /** The agent asked the guest to power off (shutdown verb). */
  shutdownRequested = false;
  /** destroy is under way: the exit is expected, not an event to report. */
  destroying = false;
  /** The thin-drive watch (extensions, ENOSPC pauses), when the VM has thin drives. */
  thin?: ThinWatch;
  /** The balloon target last set (KiB), by the policy or setBalloonTarget. */
  balloonTargetKiB?: number;
  /** Live merges (merge.ts) by job id: VM.getStats `vmJobs`. */
  readonly jobs = new Map<string, VmJob>();
  private lastShutdown?: { guest: boolean; reason: string };
  private downSettled?: Promise<void>;
  private detached = false;

  constructor(
    readonly rec: VmRecord,
    readonly paths: VmPaths,
    private readonly log: Logger,
  ) {}

  get id(): string {
    return this.rec.params.vmId;
  }

  get isDown(): boolean {
    return this.rec.exit !== undefined;
  }

  /** Takes over a running QEMU: its pid and an open QMP connection. */
  async attach(pid: number, qmp: QmpClient): Promise<void> {
    this.pid = pid;
    this.qmp = qmp;
    qmp.on("SHUTDOWN", (data) => this.onShutdown(qmp, data));
    qmp.on("event", (ev) => this.log.debug({ vmId: this.id, event: ev.event, data: ev.data }, "qmp event"));
    this.downSettled = qmp.closed.then(() => this.onQmpClosed(qmp));
    if (this.rec.params.display === "vnc") {
      const vnc = await qmp.queryVnc();
      const port = Number(vnc.service);
      if (vnc.enabled && Number.isInteger(port)) this.vncPort = port;
      if (vnc.enabled && vnc.host) this.vncHost = vnc.host;
    }
  }

  /**
   * QEMU runs with -no-shutdown: a guest power-off stops it (run state "shutdown") instead of ending
   * it, so the SHUTDOWN event that says why is read before the process goes — without that, QEMU
   * could exit before the event left its monitor, and an ACPI shutdown read as a crash. The first
   * event says why; the node's own `quit` that follows raises a second one, ignored.
   */
  onShutdown(qmp: QmpClient, data: { guest: boolean; reason: string }): void {
    if (this.lastShutdown) return;
    this.lastShutdown = data;
    this.log.info({ vmId: this.id, ...data }, "guest shut down");
    qmp.quit().catch((e: unknown) => this.log.warn({ vmId: this.id, err: String(e) }, "quit after the guest's power-off failed"));
  }

  /** The agent is stopping: let go of QEMU without treating it as an exit. */
  detach(): void {
    this.detached = true;
    this.qmp?.close();
  }

  /** Records the VM as Down (persisted, so a restarted agent reports the same exit). */
  async markDown(exit: Omit<ExitInfo, "at">): Promise<void> {
    if (this.rec.exit) return;
    this.rec.exit = { ...exit, at: Date.now() };
    this.log.info({ vmId: this.id, exit: this.rec.exit }, "VM is down");
    if (!this.destroying) await writeRecord(this.paths, this.rec).catch(() => {});
  }

  private async onQmpClosed(qmp: QmpClient): Promise<void> {
    if (this.detached || this.qmp !== qmp) return;
    const gone = this.pid === undefined || (await waitGone(this.pid, EXIT_GRACE_MS));
    if (!gone) {
      // QMP closed under a live QEMU: cannot happen with our own monitor; report, do not guess.
      this.log.error({ vmId: this.id, pid: this.pid }, "QMP closed but QEMU is still running");
      return;
    }
    await this.markDown(this.exitFromShutdown());
  }

  private exitFromShutdown(): Omit<ExitInfo, "at"> {
    const sd = this.lastShutdown;
    if (sd?.guest && this.shutdownRequested) return { code: 0, reason: ExitReason.ADMIN_SHUTDOWN, message: "Admin shut down from the engine" };
    if (sd?.guest) return { code: 0, reason: ExitReason.USER_SHUTDOWN, message: "User shut down from within the guest" };
    if (sd) return { code: 0, reason: ExitReason.SUCCESS, message: `QEMU stopped by the host (${sd.reason})` };
    return { code: 1, reason: ExitReason.LOST_QEMU_CONNECTION, message: "QEMU exited without a shutdown (crash or killed)" };
  }

  /** VDSM status, read now. `qemu` is the raw QMP run state when there is one. */
  async status(): Promise<{ status: VmStatus; qemu?: string; monitorResponse: "0" | "-1" }> {
    if (this.rec.exit) return { status: "Down", monitorResponse: "0" };
    const qmp = this.qmp;
    if (!qmp && this.pid !== undefined) {
      // Recovered without a monitor: not known to run, so not reported Up; -1 says why.
      if (await alive(this.pid)) return { status: "Paused", monitorResponse: "-1" };
      await this.markDown({ code: 1, reason: ExitReason.LOST_QEMU_CONNECTION, message: "QEMU exited while unmonitored" });
      return { status: "Down", monitorResponse: "0" };
    }
    if (!qmp) return { status: "WaitForLaunch", monitorResponse: "0" };
    try {
      const st = await qmp.queryStatus();
      // Powered off, QEMU being ended by onShutdown: Down (with its exit) once the process is gone.
      if (st.status === "shutdown") return { status: "Powering down", qemu: st.status, monitorResponse: "0" };
      return { status: fromQemuStatus(st.status), qemu: st.status, monitorResponse: "0" };
    } catch (e) {
      if (e instanceof QmpClosedError && this.downSettled) {
        await this.downSettled;
        if (this.rec.exit) return { status: "Down", monitorResponse: "0" };
      }
      const running = this.pid !== undefined && (await alive(this.pid));
      this.log.warn({ vmId: this.id, err: String(e), running }, "QMP does not answer");
      return { status: running ? "Paused" : "Down", monitorResponse: "-1" };
    }
  }

  private async disks(): Promise<Record<string, Record<string, string>>> {
    const out: Record<string, Record<string, string>> = {};
    let entries: QmpBlockStatsEntry[] = [];
    try {
      // Per device: guest I/O is accounted on the device's backend, and `parent` is the file
      // node with its physical wr_highest_offset.
      if (this.qmp && !this.rec.exit) entries = await this.qmp.queryBlockstats(false);
    } catch {
      entries = [];
    }
    const byNode = new Map(entries.filter((e) => e["node-name"]).map((e) => [e["node-name"], e]));
    for (const d of this.rec.drives) {
      const e = byNode.get(d.formatNode);
      const file = e?.parent?.stats;
      out[d.name] = {
        imageID: d.imageID,
        volumeID: d.volumeID,
        domainID: d.domainID,
        poolID: d.poolID,
        path: d.path,
        format: d.format,
        readBytes: String(e?.stats.rd_bytes ?? 0),
        writtenBytes: String(e?.stats.wr_bytes ?? 0),
        readOps: String(e?.stats.rd_operations ?? 0),
        writeOps: String(e?.stats.wr_operations ?? 0),
        flushOps: String(e?.stats.flush_operations ?? 0),
        // cumulative nanoseconds (QEMU's totals): the engine derives the latency per interval
        readTimeNs: String(e?.stats.rd_total_time_ns ?? 0),
        writeTimeNs: String(e?.stats.wr_total_time_ns ?? 0),
        flushTimeNs: String(e?.stats.flush_total_time_ns ?? 0),
        /** Highest offset written in the volume file (what a thin LV must cover). */
        wrHighestOffset: String(file?.wr_highest_offset ?? 0),
      };
    }
    return out;
  }

  /** The VM's entry in VDSM's getVmStats/getAllVmStats `statsList`. */
  async stats(): Promise<VmStats> {
    const p = this.rec.params;
    const st = await this.status();
    const down = st.status === "Down";
    const port = !down && this.vncPort !== undefined ? String(this.vncPort) : "-1";
    const displayIp = this.vncHost ?? VNC_LISTEN;
    const out: VmStats = {
      vmId: p.vmId,
      vmName: p.vmName,
      status: st.status,
      pid: String(down ? 0 : (this.pid ?? 0)),
      monitorResponse: st.monitorResponse,
      elapsedTime: String(Math.floor((Date.now() - this.rec.createdAt) / 1000)),
      vcpuCount: String(p.smp),
      memSize: p.memSize,
      acpiEnable: "true",
      kvmEnable: String(this.rec.accel === "kvm"),
      accel: this.rec.accel,
      timeOffset: "0",
      displayType: p.display === "vnc" ? "vnc" : "none",
      displayPort: port,
      displaySecurePort: "-1",
      displayIp,
      displayInfo: p.display === "vnc" ? [{ type: "vnc", port, tlsPort: "-1", ipAddress: displayIp }] : [],
      disks: await this.disks(),
    };
    if (!down && this.pid !== undefined) Object.assign(out, await this.usage(this.pid));
    if (st.qemu) out.qemuStatus = st.qemu;
    // Thin drives: extensions made and ENOSPC pauses seen (the guest outran extension).
    if (this.thin) {
      const c = this.thin.counters;
      Object.assign(out, { thinExtensions: String(c.extensions), enospcPauses: String(c.pauses), enospcPausedMs: String(Math.round(c.pausedMs)) });
      // While paused on ENOSPC: VDSM's pauseCode, and why no room could be had (a full VG, a lost SPM).
      if (c.pauseCode && st.qemu === "io-error") Object.assign(out, { pauseCode: c.pauseCode, ...(c.error ? { thinError: c.error } : {}) });
    }
    if (this.jobs.size) out.vmJobs = Object.fromEntries([...this.jobs].map(([id, j]) => [id, { ...j }]));
    if (this.rec.exit) {
      out.exitCode = this.rec.exit.code;
      out.exitReason = this.rec.exit.reason;
      out.exitMessage = this.rec.exit.message;
    }
    return out;
  }

  /** CPU, memory and NIC figures of the running QEMU process (usage.ts). */
  private async usage(pid: number): Promise<Partial<VmStats>> {
    const p = this.rec.params;
    const rss = await vmRssKiB(pid);
    const network: Record<string, Record<string, string>> = {};
    for (const [i, nic] of p.nics.entries()) {
      const tap = this.rec.taps[i];
      if (tap) network[tap] = await nicCounters(tap, nic.macAddr);
    }
    const memKiB = Number(p.memSize) * 1024;
    return {
      ...(await vmCpu(pid, Number(p.smp) || 1)),
      ...(await this.cdromState()),
      ...(await this.balloonState()),
      memUsage: rss === undefined ? "0" : String(Math.min(100, Math.round((100 * rss) / memKiB))),
      memRss: rss === undefined ? "0" : String(rss),
      network,
    };
  }

  /** The CD-ROM's medium as QEMU reports it (query-block), not as recorded: what the guest sees. */
  private async cdromState(): Promise<Partial<VmStats>> {
    const blocks = await this.qmp?.queryBlock().catch(() => undefined);
    const cd = blocks?.find((b) => b.qdev === CDROM_ID || b.qdev?.endsWith(`/${CDROM_ID}`));
    if (!cd) return {};
    return { cdrom: { path: cd.inserted?.file ?? "", trayOpen: String(cd.tray_open ?? false) } };
  }

  /** VDSM's balloonInfo and the guest's memoryStats, when the VM has a balloon. */
  private async balloonState(): Promise<Partial<VmStats>> {
    const qmp = this.qmp;
    if (!this.rec.params.balloon || !qmp) return {};
    const cur = await balloonActualKiB(qmp).catch(() => undefined);
    if (cur === undefined) return {};
    const max = this.rec.params.memSize * 1024;
    const balloonInfo = { balloon_max: String(max), balloon_cur: String(cur), balloon_target: String(this.balloonTargetKiB ?? max), balloon_min: String(balloonMinKiB(this.rec.params)) };
    const memoryStats = await guestMemoryStats(qmp).catch(() => undefined);
    return memoryStats ? { balloonInfo, memoryStats } : { balloonInfo };
  }

  /** The VM's entry in `list` / `create`'s `vmList`. */
  summary(status: VmStatus, full: boolean): VmSummary {
    const p = this.rec.params;
    const base: VmSummary = { vmId: p.vmId, status };
    if (!full) return base;
    return {
      ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)),
      ...base,
      pid: String(this.pid ?? 0),
      kvmEnable: String(this.rec.accel === "kvm"),
      accel: this.rec.accel,
      displayPort: this.vncPort !== undefined ? String(this.vncPort) : "-1",
      drives: p.drives.map((d, i) => ({ ...d, name: this.rec.drives[i]?.name, path: this.rec.drives[i]?.path })),
    };
  }
}
