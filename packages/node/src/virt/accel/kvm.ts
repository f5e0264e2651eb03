/**
 * KVM. /dev/kvm existing is not enough: on some hosts (nested, PVM-based) it opens fine, runs
 * firmware, and then hangs a real kernel. So the probe runs in two steps with the exact CPU
 * arguments VMs would get: SeaBIOS to its end ("No bootable device" on the debug console; cheap,
 * catches hosts that reject `-cpu host`), then a stock Linux kernel with no root device to the point where it looks
 * for one ("Unable to mount root fs"), which needs long mode, paging, interrupts, timers and
 * every early driver to work. The kernel comes from the node's boot directories or /boot; without
 * one KVM is not trusted (said in the log; VELA_NODE_ACCEL=kvm forces it). Answers at once when
 * there is no usable /dev/kvm. It never touches a VM.
 */
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { runUntil } from "../../exec.js";
import type { Logger } from "../../log.js";
import type { Accelerator, ProbeContext } from "./index.js";

const FIRMWARE_TIMEOUT_MS = 4000;
/** A kernel under working KVM reaches its root mount in about a second; TCG needs about four. */
const KERNEL_TIMEOUT_MS = 20_000;
const FIRMWARE_DONE = "No bootable device";
const KERNEL_DONE = "Unable to mount root fs";

function kvmDeviceUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first kernel image in the boot directories, then in /boot. */
export function probeKernel(bootDirs: readonly string[]): string | undefined {
  for (const dir of [...bootDirs, "/boot"]) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.startsWith("vmlinuz")).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const path = join(dir, n);
      try {
        if (statSync(path).isFile()) return path;
      } catch {
        // A dangling link: try the next one.
      }
    }
  }
  return undefined;
}

/**
 * Runs QEMU until `marker` appears on the serial line (success is a line of output while QEMU
 * keeps running; the runner kills QEMU then, or at the timeout).
 */
async function runsTo(args: string[], marker: string, timeoutMs: number, log: Logger, step: string): Promise<boolean> {
  const argv = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-nic", "none", ...args];
  const { seen, tail } = await runUntil(argv, marker, { timeoutMs, log });
  if (!seen) log.info({ step, output: tail.slice(-800) }, "kvm probe: guest did not get there");
  return seen;
}

/**
 * Whether QEMU with these accelerator arguments runs firmware to its end. Debian's SeaBIOS prints
 * nothing on the serial line; its messages go to QEMU's debug console at port 0x402.
 */
export function bootsFirmware(accelArgv: string[], log: Logger): Promise<boolean> {
  const debugcon = ["-chardev", "stdio,id=fw", "-device", "isa-debugcon,iobase=0x402,chardev=fw"];
  return runsTo([...accelArgv, "-m", "32", ...debugcon], FIRMWARE_DONE, FIRMWARE_TIMEOUT_MS, log, "firmware");
}

/** Whether QEMU with these accelerator arguments runs a Linux kernel to its root mount. */
export function bootsKernel(accelArgv: string[], kernel: string, log: Logger): Promise<boolean> {
  const args = [...accelArgv, "-m", "256", "-serial", "stdio", "-kernel", kernel, "-append", "console=ttyS0 panic=-1"];
  return runsTo(args, KERNEL_DONE, KERNEL_TIMEOUT_MS, log, `kernel ${kernel}`);
}

async function probe({ log, bootDirs }: ProbeContext): Promise<boolean> {
  if (!kvmDeviceUsable()) return false;
  if (!(await bootsFirmware(kvm.argv(), log))) return false;
  const kernel = probeKernel(bootDirs);
  if (!kernel) {
    // Firmware alone is no proof: the hosts where KVM hangs kernels run it fine. Real hosts have
    // /boot; where there is none, the operator can force KVM.
    log.warn("kvm probe: no kernel in the boot directories or /boot to try KVM with; using TCG (VELA_NODE_ACCEL=kvm forces KVM)");
    return false;
  }
  return bootsKernel(kvm.argv(), kernel, log);
}

export const kvm: Accelerator = {
  name: "kvm",
  probe,
  argv() {
    return ["-accel", "kvm", "-cpu", "host"];
  },
};
