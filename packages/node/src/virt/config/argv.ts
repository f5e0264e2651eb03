/**
 * Assembles a VM's QEMU command line from checked parts. Hygiene first: no default devices, no
 * user config files, no GUI, daemonized so the VM outlives the agent, started paused (-S) so the
 * node attaches QMP before the guest runs, and kept alive after a guest power-off (-no-shutdown)
 * until the node has read why. Every value placed in a "k=v,k=v" option is escaped;
 * device and blockdev options are JSON. Never includes anything unchecked from a request.
 */
import type { VmParams } from "@vela/protocol";
import type { Accelerator } from "../accel/index.js";
import type { VmPaths } from "../rundir.js";
import { type BootPlan, bootArgv } from "./boot.js";
import { displayArgv } from "./display.js";
import { optValue, pathOpt } from "./qemuopt.js";

export const QEMU_BINARY = "qemu-system-x86_64";

export interface ArgvPlan {
  params: VmParams;
  accel: Accelerator;
  paths: VmPaths;
  boot: BootPlan;
  drives: string[];
  nics: string[];
  /** Address the VNC server listens on (the host's display network address). */
  displayAddress?: string;
}

export function buildArgv(plan: ArgvPlan): string[] {
  const { params, paths } = plan;
  return [
    QEMU_BINARY,
    "-name",
    `guest=${optValue(params.vmName || params.vmId)},debug-threads=on`,
    "-uuid",
    params.vmId,
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-machine",
    "pc",
    ...plan.accel.argv(),
    "-m",
    String(params.memSize),
    "-smp",
    String(params.smp),
    "-sandbox",
    "on",
    "-msg",
    "timestamp=on",
    // A guest power-off stops QEMU rather than ending it; the node reads why, then quits it (vm.ts).
    "-no-shutdown",
    "-daemonize",
    "-pidfile",
    paths.pidfile,
    "-S",
    "-chardev",
    `socket,id=qmp,${pathOpt(paths.qmp)},server=on,wait=off`,
    "-mon",
    "chardev=qmp,mode=control",
    "-chardev",
    `socket,id=serial0,${pathOpt(paths.console)},server=on,wait=off,logfile=${optValue(paths.consoleLog)},logappend=on`,
    "-serial",
    "chardev:serial0",
    ...displayArgv(params.display, plan.displayAddress),
    ...bootArgv(plan.boot),
    ...plan.drives,
    ...plan.nics,
  ];
}
