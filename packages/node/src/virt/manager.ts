/**
 * The node's table of VMs and the lifecycle verbs over it: create, destroy, shutdown, list and
 * statistics, in VDSM's result shapes. Operations on one VM are serialised; a VM id is reserved
 * before the first await so two creates of the same id cannot both proceed. Never keeps VM
 * configuration beyond what is needed to run and recover the VMs it was given.
 */
import { type SnapDrive, VdsmError, type VmParams, type VmStats, type VmSummary } from "@vela/protocol";
import type { NodeContext } from "../api/context.js";
import type { ImageService } from "../api/services.js";
import type { QmpClient } from "../qemu/qmp.js";
import { hostAccel } from "./accel/index.js";
import { deleteTap } from "./config/nic.js";
import { prepareVm, startVm } from "./launch.js";
import { ThinWatch } from "./thin.js";
import { alive, signalVm, waitGone } from "./process.js";
import { recoverVms } from "./recovery.js";
import { removeVmDir } from "./rundir.js";
import { liveSnapshot } from "./snapshot.js";
import { type MergeRequest, startMerge } from "./merge.js";
import type { Vm } from "./vm.js";

const QUIT_WAIT_MS = 10_000;
/** How long a forced shutdown or reboot waits for the guest by default (VDSM: 30 s). */
const DEFAULT_SHUTDOWN_TIMEOUT_SEC = 30;

export interface ShutdownOptions {
  reboot?: boolean;
  timeoutSec?: number;
  force?: boolean;
}
const TERM_WAIT_MS = 5_000;

export class VmManager {
  private readonly vms = new Map<string, Vm>();
  /** Ids whose create is still in its synchronous part. */
  private readonly reserved = new Set<string>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly images: ImageService,
  ) {}

  async recover(): Promise<void> {
    for (const [id, vm] of await recoverVms(this.ctx)) this.vms.set(id, vm);
    // Probe accelerators now, in the background, so the first create does not wait for it.
    void hostAccel(this.ctx.config.accel, { log: this.ctx.log, bootDirs: this.ctx.config.bootDirs });
  }

  private get(vmId: string): Vm {
    const vm = this.vms.get(vmId);
    if (!vm) throw new VdsmError("noVM", vmId);
    return vm;
  }

  /** Runs fn after every earlier operation on the same VM has finished. */
  private serial<T>(vmId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(vmId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(vmId, tail);
    void tail.then(() => {
      if (this.locks.get(vmId) === tail) this.locks.delete(vmId);
    });
    return next;
  }

  async create(params: VmParams, vmID?: string): Promise<{ vmList: VmSummary }> {
    if (vmID !== undefined && vmID !== params.vmId) {
      throw new VdsmError("createErr", `vmID ${vmID} differs from vmParams.vmId ${params.vmId}`);
    }
    const id = params.vmId;
    if (this.vms.has(id) || this.reserved.has(id)) throw new VdsmError("exist", id);
    this.reserved.add(id);
    try {
      const prepared = await prepareVm(this.ctx, this.images, params);
      const vm = prepared.vm;
      this.vms.set(id, vm);
      // The thin-drive watch starts before the guest runs: thresholds armed, a fresh drive's first extension done.
      vm.launching = startVm(this.ctx, prepared, () => this.watchThin(vm, true))
        .finally(() => {
        vm.launching = undefined;
      });
      return { vmList: vm.summary("WaitForLaunch", true) };
    } finally {
      this.reserved.delete(id);
    }
  }

  /**
   * Live snapshot (snapshot.ts) of a running VM, after its earlier operations; the thin-drive
   * watch then follows the new tops (the old ones are read-only backing files from now on).
   */
  async snapshot(vmId: string, drives: readonly SnapDrive[], memory: string | undefined): Promise<{ quiesce: boolean }> {
    return this.controlled(vmId, "take a snapshot", async (vm, qmp) => {
      const out = await liveSnapshot(this.images, vm, qmp, drives, memory, this.ctx.log, this.ctx.config.faults);
      await this.watchThin(vm);
      return out;
    });
  }

  /** Live merge (merge.ts): starts the job and answers; its end is read in the VM's stats. */
  async merge(vmId: string, req: MergeRequest): Promise<Record<string, never>> {
    return this.controlled(vmId, "merge", async (vm, qmp) => {
      await startMerge(this.images, vm, qmp, req, this.ctx.log, this.ctx.config.faults, (v) => this.watchThin(v));
      return {};
    });
  }

  /** Thin drives of a VM that started: extended while the guest writes (thin.ts). */
  private async watchThin(vm: Vm, beforeGuest = false): Promise<void> {
    vm.thin?.stop();
    vm.thin = undefined;
    if (!vm.qmp || vm.isDown) return;
    vm.thin = new ThinWatch(vm.qmp, this.images, this.ctx.log.child({ vmId: vm.id }));
    await vm.thin.start(vm.rec.drives, beforeGuest).catch((err: unknown) => this.ctx.log.warn({ vmId: vm.id, err: String(err) }, "thin drive watch failed to start"));
  }

  async destroy(vmId: string): Promise<Record<string, unknown>> {
    this.get(vmId);
    return this.serial(vmId, async () => {
      const vm = this.get(vmId);
      vm.destroying = true;
      await vm.launching;
      await this.stopProcess(vm);
      await this.release(vm);
      this.vms.delete(vmId);
      this.ctx.log.info({ vmId }, "VM destroyed");
      return {};
    });
  }

  /** Ends QEMU: QMP quit, then SIGTERM, then SIGKILL, each only while it is still this VM's QEMU. */
  private async stopProcess(vm: Vm): Promise<void> {
    const pid = vm.pid;
    if (pid === undefined || !(await alive(pid))) return;
    if (vm.qmp?.isOpen) {
      await vm.qmp.quit().catch((e: unknown) => this.ctx.log.warn({ vmId: vm.id, err: String(e) }, "QMP quit failed"));
      if (await waitGone(pid, QUIT_WAIT_MS)) return;
    }
    if (await signalVm(pid, vm.paths.qmp, "SIGTERM")) {
      if (await waitGone(pid, TERM_WAIT_MS)) return;
    }
    if (await signalVm(pid, vm.paths.qmp, "SIGKILL")) await waitGone(pid, TERM_WAIT_MS);
  }

  /** Frees what create took: taps, prepared images, the run directory. */
  private async release(vm: Vm): Promise<void> {
    vm.detach();
    for (const tap of vm.rec.taps) if (tap) await deleteTap(tap, this.ctx.log);
    for (const d of vm.rec.drives) {
      await this.images.teardown(d).catch((e: unknown) => this.ctx.log.warn({ vmId: vm.id, imageID: d.imageID, err: String(e) }, "teardown failed"));
    }
    await removeVmDir(vm.paths);
  }

  /**
   * Asks the guest to power off (ACPI power button) or, with `reboot`, to restart (Ctrl+Alt+Del,
   * the one reboot request a guest without an agent understands). With `force`, a guest that has
   * not obeyed after `timeout` seconds is powered off (QMP quit) or hard-reset (system_reset).
   */
  async shutdown(vmId: string, opts: ShutdownOptions = {}): Promise<Record<string, unknown>> {
    this.get(vmId);
    return this.serial(vmId, async () => {
      const vm = this.get(vmId);
      await vm.launching;
      if (vm.isDown) return {};
      const qmp = vm.qmp;
      if (!qmp?.isOpen) throw new VdsmError("createErr", `VM ${vmId} has no monitor connection; use destroy`);
      const timeoutMs = (opts.timeoutSec ?? DEFAULT_SHUTDOWN_TIMEOUT_SEC) * 1000;
      if (opts.reboot) {
        const reset = qmp.once("RESET", timeoutMs);
        await qmp.sendKey(["ctrl", "alt", "delete"]);
        if (opts.force) void this.forceAfter(vm, qmp, reset, "system_reset", () => qmp.systemReset());
        else reset.catch(() => {});
        return {};
      }
      vm.shutdownRequested = true;
      await qmp.systemPowerdown();
      if (opts.force) void this.forceAfter(vm, qmp, qmp.closed.then(() => undefined), "power off", () => qmp.quit(), timeoutMs);
      return {};
    });
  }

  /** Runs `act` unless `obeyed` settles first (within `timeoutMs` when given), while QMP is still this VM's. */
  private async forceAfter(vm: Vm, qmp: QmpClient, obeyed: Promise<unknown>, what: string, act: () => Promise<void>, timeoutMs?: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = timeoutMs === undefined ? obeyed.then(() => false, () => true) : Promise.race([
      obeyed.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), timeoutMs);
      }),
    ]);
    const late = await timedOut;
    clearTimeout(timer);
    if (!late || vm.isDown || vm.qmp !== qmp || !qmp.isOpen) return;
    this.ctx.log.info({ vmId: vm.id, action: what }, "guest did not obey in time: forcing");
    await this.serial(vm.id, act).catch((e: unknown) => this.ctx.log.warn({ vmId: vm.id, err: String(e) }, `forced ${what} failed`));
  }

  /**
   * Runs fn on a VM whose QEMU is up and answers QMP, after earlier operations on it. A Down VM
   * or one without a monitor is refused (VDSM code 1 / 9), never guessed at.
   */
  async controlled<T>(vmId: string, what: string, fn: (vm: Vm, qmp: QmpClient) => Promise<T>): Promise<T> {
    this.get(vmId);
    return this.serial(vmId, async () => {
      const vm = this.get(vmId);
      await vm.launching;
      if (vm.isDown) throw new VdsmError("noVM", `${vmId} is down: cannot ${what}`);
      if (!vm.qmp?.isOpen) throw new VdsmError("createErr", `VM ${vmId} has no monitor connection: cannot ${what}`);
      return fn(vm, vm.qmp);
    });
  }

  /** A VM known here, running or not (the console log outlives QEMU until destroy). */
  known(vmId: string): Vm {
    return this.get(vmId);
  }

  async list(full: boolean, only?: string[]): Promise<{ vmList: VmSummary[] }> {
    const wanted = only ? new Set(only) : undefined;
    const out: VmSummary[] = [];
    for (const vm of this.vms.values()) {
      if (wanted && !wanted.has(vm.id)) continue;
      out.push(vm.summary((await vm.status()).status, full));
    }
    return { vmList: out };
  }

  async stats(vmId: string): Promise<{ statsList: VmStats[] }> {
    return { statsList: [await this.get(vmId).stats()] };
  }

  async allStats(): Promise<{ statsList: VmStats[] }> {
    return { statsList: await Promise.all([...this.vms.values()].map((vm) => vm.stats())) };
  }

  /** Runs fn on a VM, serialised with its other operations (NIC hot-plug, link state). */
  withVm<T>(vmId: string, fn: (vm: Vm) => Promise<T>): Promise<T> {
    this.get(vmId);
    return this.serial(vmId, async () => {
      const vm = this.get(vmId);
      await vm.launching;
      return fn(vm);
    });
  }

  /** Every VM known here (the memory policy walks them). */
  all(): Vm[] {
    return [...this.vms.values()];
  }

  /** Agent stopping: let go of every QEMU, leave the VMs running. */
  async close(): Promise<void> {
    for (const vm of this.vms.values()) vm.detach();
  }
}
