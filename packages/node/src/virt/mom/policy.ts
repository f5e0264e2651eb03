/**
 * The node's memory over-commit policy (a small MOM): under host memory pressure it inflates the
 * balloons of VMs that have one, a step at a time, never leaving a VM less than its floor — its
 * guaranteed memory, and the share the cluster's over-commit percentage allows (at 150 % a VM
 * keeps at least 100/150 of its memory; at 100 % balloons are never inflated); once the pressure
 * is gone it deflates them again a step at a time. Off, it leaves balloons to the administrator. `decide` is pure: the runner feeds it
 * /proc/meminfo and each balloon's size and applies what it answers.
 */
import type { MomPolicy } from "@vela/protocol";

/** Free memory (MemAvailable / MemTotal) below which the host is under pressure (MOM's 0.20). */
export const PRESSURE_FREE = 0.2;
/** Free memory above which balloons are given back (a gap, so targets do not flap). */
export const RELIEF_FREE = 0.3;
/** A step: this share of a VM's memory per decision. */
export const STEP = 0.05;

export interface HostMemory {
  totalKiB: number;
  availableKiB: number;
}

export interface BalloonedVm {
  vmId: string;
  /** The VM's memory (KiB): the most its balloon gives it. */
  memKiB: number;
  /** Its guarantee (KiB). */
  minKiB: number;
  /** What the balloon leaves it now (KiB). */
  actualKiB: number;
}

export interface Decision {
  vmId: string;
  targetKiB: number;
}

/** The least a VM keeps: its guarantee, and memory × 100 / over-commit %. */
export function floorKiB(vm: Pick<BalloonedVm, "memKiB" | "minKiB">, overCommitPercent: number): number {
  return Math.min(vm.memKiB, Math.max(vm.minKiB, Math.ceil((vm.memKiB * 100) / overCommitPercent)));
}

/** New balloon targets (only those that change). */
export function decide(host: HostMemory, vms: BalloonedVm[], policy: Pick<MomPolicy, "balloonEnabled" | "overCommitPercent">): Decision[] {
  const free = host.totalKiB > 0 ? host.availableKiB / host.totalKiB : 1;
  const out: Decision[] = [];
  for (const vm of vms) {
    const step = Math.max(1024, Math.round(vm.memKiB * STEP));
    let target = vm.actualKiB;
    // ballooning off: the policy leaves balloons alone (runner.ts gives memory back on the switch)
    if (!policy.balloonEnabled) break;
    if (free < PRESSURE_FREE) target = Math.max(floorKiB(vm, policy.overCommitPercent), vm.actualKiB - step);
    else if (free > RELIEF_FREE) target = Math.min(vm.memKiB, vm.actualKiB + step);
    // QEMU reports sizes rounded to pages: ignore differences below a step's rounding
    if (Math.abs(target - vm.actualKiB) >= 1024) out.push({ vmId: vm.vmId, targetKiB: target });
  }
  return out;
}
