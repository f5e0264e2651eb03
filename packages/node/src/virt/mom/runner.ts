/**
 * Runs the memory policy (policy.ts) on this host: every interval it reads MemTotal and
 * MemAvailable from /proc/meminfo and each ballooned VM's size, and applies the targets `decide`
 * answers through QMP. The policy parameters come from the engine (`setMOMPolicyParameters`,
 * from the cluster); until then ballooning and KSM are left off, as a node keeps no settings.
 */
import { readFile } from "node:fs/promises";
import type { MomPolicy } from "@vela/protocol";
import type { Logger } from "../../log.js";
import type { Vm } from "../vm.js";
import { balloonActualKiB, balloonMinKiB, setBalloonKiB } from "./balloon.js";
import { type KsmState, setKsm } from "./ksm.js";
import { type BalloonedVm, decide, type HostMemory } from "./policy.js";

export async function hostMemory(): Promise<HostMemory> {
  const text = await readFile("/proc/meminfo", "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? 0);
  return { totalKiB: kib("MemTotal"), availableKiB: kib("MemAvailable") };
}

export class Mom {
  policy: MomPolicy = { balloonEnabled: false, overCommitPercent: 100, ksmEnabled: false };
  ksm?: KsmState;
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(
    private readonly vms: () => Vm[],
    private readonly log: Logger,
    private readonly opts: { intervalMs: number; ksmDir: string; memory?: () => Promise<HostMemory> },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async setPolicy(policy: MomPolicy): Promise<void> {
    const switchedOff = this.policy.balloonEnabled && !policy.balloonEnabled;
    this.policy = policy;
    if (switchedOff) await this.deflateAll();
    this.ksm = await setKsm(policy.ksmEnabled, this.opts.ksmDir);
    if (!this.ksm.present) this.log.warn({ dir: this.opts.ksmDir }, "KSM asked for but this kernel has no KSM: left off");
    this.log.info({ ...policy, ksm: this.ksm }, "memory policy set");
    await this.tick();
  }

  /** Ballooning switched off: every ballooned VM gets all its memory back. */
  private async deflateAll(): Promise<void> {
    for (const vm of this.vms()) {
      if (!vm.rec.params.balloon || vm.isDown || !vm.qmp?.isOpen) continue;
      vm.balloonTargetKiB = vm.rec.params.memSize * 1024;
      await setBalloonKiB(vm.qmp, vm.balloonTargetKiB).catch((err: unknown) => this.log.warn({ vmId: vm.id, err: String(err) }, "balloon change failed"));
    }
  }

  /** One look: apply the balloon targets the policy decides. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const ballooned: { vm: Vm; b: BalloonedVm }[] = [];
      for (const vm of this.vms()) {
        const qmp = vm.qmp;
        if (!vm.rec.params.balloon || vm.isDown || !qmp?.isOpen || vm.launching) continue;
        const actualKiB = await balloonActualKiB(qmp).catch(() => undefined);
        if (actualKiB === undefined) continue;
        ballooned.push({ vm, b: { vmId: vm.id, memKiB: vm.rec.params.memSize * 1024, minKiB: balloonMinKiB(vm.rec.params), actualKiB } });
      }
      if (!ballooned.length || !this.policy.balloonEnabled) return;
      const host = await (this.opts.memory ?? hostMemory)();
      for (const d of decide(host, ballooned.map((x) => x.b), this.policy)) {
        const vm = ballooned.find((x) => x.vm.id === d.vmId)?.vm;
        if (!vm?.qmp) continue;
        this.log.info({ vmId: d.vmId, targetKiB: d.targetKiB, hostAvailableKiB: host.availableKiB }, "balloon target");
        vm.balloonTargetKiB = d.targetKiB;
        await setBalloonKiB(vm.qmp, d.targetKiB).catch((err: unknown) => this.log.warn({ vmId: d.vmId, err: String(err) }, "balloon change failed"));
      }
    } finally {
      this.ticking = false;
    }
  }
}
