/**
 * Accelerators QEMU can run guests with, registered in one place. The node picks one per VM:
 * the VM's own request, else the operator's VELA_NODE_ACCEL, else the best one whose one-time
 * probe proves it really runs a guest here. Never assumes KVM works because /dev/kvm exists.
 */
import { VdsmError } from "@vela/protocol";
import type { Logger } from "../../log.js";
import { kvm } from "./kvm.js";
import { tcg } from "./tcg.js";

export type AccelName = "kvm" | "tcg";

/** What a probe may use: the log, and where the node finds kernels to boot a test guest with. */
export interface ProbeContext {
  log: Logger;
  bootDirs: readonly string[];
}

export interface Accelerator {
  readonly name: AccelName;
  /** Whether guests really run with it on this host. Called once per node process. */
  probe(ctx: ProbeContext): Promise<boolean>;
  /** QEMU arguments selecting the accelerator and the CPU model that goes with it. */
  argv(): string[];
}

/** Registry, in order of preference. */
export const accelerators: Readonly<Record<AccelName, Accelerator>> = { kvm, tcg };
const PREFERENCE: AccelName[] = ["kvm", "tcg"];

const probes = new Map<AccelName, Promise<boolean>>();

/** The cached probe result of one accelerator. */
export function probeAccel(name: AccelName, ctx: ProbeContext): Promise<boolean> {
  const { log } = ctx;
  let p = probes.get(name);
  if (!p) {
    const started = Date.now();
    p = accelerators[name].probe(ctx).then(
      (ok) => {
        log.info({ accel: name, ok, ms: Date.now() - started }, "accelerator probe");
        return ok;
      },
      (err: unknown) => {
        log.warn({ accel: name, err: String(err) }, "accelerator probe failed");
        return false;
      },
    );
    probes.set(name, p);
  }
  return p;
}

/** The host's default: forced by configuration, else the first accelerator whose probe passes. */
export async function hostAccel(forced: AccelName | undefined, ctx: ProbeContext): Promise<Accelerator> {
  if (forced) return accelerators[forced];
  for (const name of PREFERENCE) {
    if (await probeAccel(name, ctx)) return accelerators[name];
  }
  return accelerators.tcg;
}

/**
 * The accelerator for one VM. A VM that asks for one explicitly gets it only if it works here
 * (or the operator forced that same one): a silent fallback would hide a wrong placement.
 */
export async function vmAccel(requested: AccelName | undefined, forced: AccelName | undefined, ctx: ProbeContext): Promise<Accelerator> {
  if (!requested) return hostAccel(forced, ctx);
  if (requested === forced || (await probeAccel(requested, ctx))) return accelerators[requested];
  throw new VdsmError("createErr", `accelerator ${requested} does not run guests on this host`);
}
