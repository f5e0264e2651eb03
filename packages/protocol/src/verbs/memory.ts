/**
 * Memory over-commit verbs (VDSM's MOM interface): the balloon target of one running VM
 * (`VM.setBalloonTarget`, KiB as VDSM) and the host's policy parameters the engine sends from the
 * cluster (`Host.setMOMPolicyParameters`): whether the node may inflate balloons, how far (the
 * cluster's over-commit percentage), and whether KSM runs.
 */
import { z } from "zod";
import { Uuid } from "../schemas.js";
import { done, out, p, verb } from "../verb.js";
import { Int } from "./common.js";

/** The host policy the engine sets from the VM's cluster (VDSM's key/value store, named members). */
export const MomPolicy = z.object({
  /** The node may change balloons under host memory pressure. */
  balloonEnabled: z.boolean(),
  /** Memory the host's VMs may be given, in % of the host's (100: no over-commit). */
  overCommitPercent: Int.refine((n) => n >= 100 && n <= 1000, { message: "overCommitPercent out of range (100..1000)" }).default(100),
  /** Kernel same-page merging on this host. */
  ksmEnabled: z.boolean(),
});
export type MomPolicy = z.infer<typeof MomPolicy>;

export const KsmState = z.object({ present: z.boolean(), running: z.boolean(), pagesSharing: z.number().optional() });
export type KsmState = z.infer<typeof KsmState>;

export const memoryVerbs = {
  setBalloonTarget: verb("setBalloonTarget", "VM.setBalloonTarget", [
    p("vmId", Uuid, "vmID"),
    /** KiB the guest keeps (VDSM's unit), at least 16 MiB. */
    p("target", Int.refine((n) => n >= 16 * 1024 && n <= 4 * 1024 * 1024 * 1024, { message: "target out of range (16 MiB..4 TiB, in KiB)" }), "target"),
  ], done),
  /** Answers KSM's state after the change (Vela: `present: false` when the kernel has no KSM). */
  setMOMPolicyParameters: verb("setMOMPolicyParameters", "Host.setMOMPolicyParameters", [p("policy", MomPolicy, "key_value_store")], out("ksmState", KsmState)),
} as const;
