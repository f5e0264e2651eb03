/**
 * What the quota API accepts: a quota (name, description, soft and hard percentages), a cluster
 * limit (vCPUs, memory in GiB) and a storage limit (GiB); -1 is unlimited, an absent limit too.
 * Percentages are oVirt's: soft is the warning threshold (0–100 % of the limit), hard the grace
 * above the limit (0–1000 %).
 */
import { z } from "zod";
import { Int, Name, Ref, Text } from "../input/input.js";

/** 1 PiB in GiB: any larger limit is a typo. */
export const MAX_GIB = 2 ** 20;
export const MAX_VCPUS = 1_000_000;

/** A decimal number (oVirt's memory_limit is one): a JSON number or a decimal string. */
function Decimal(min: number, max: number) {
  return z
    .union([z.number(), z.string().trim().regex(/^-?[0-9]+(\.[0-9]+)?$/, "not a number")])
    .transform((v) => Number(v))
    .refine((n) => Number.isFinite(n), "not a number")
    .refine((n) => n >= min && n <= max, `out of range (${min}..${max})`);
}

/** -1 (unlimited) or a limit from 0 up. */
const unlimitedOr = (n: number) => n === -1 || n >= 0;

export const QuotaInput = z.object({
  name: Name.refine((s) => s.length <= 60, "longer than 60 characters"),
  description: Text(4000).optional(),
  cluster_soft_limit_pct: Int(0, 100).optional(),
  cluster_hard_limit_pct: Int(0, 1000).optional(),
  storage_soft_limit_pct: Int(0, 100).optional(),
  storage_hard_limit_pct: Int(0, 1000).optional(),
});
export type QuotaInput = z.output<typeof QuotaInput>;
export const QuotaUpdate = QuotaInput.partial().extend({ id: z.string().max(64).optional() });

export const ClusterLimitInput = z.object({
  cluster: Ref.optional(),
  vcpu_limit: Int(-1, MAX_VCPUS).optional(),
  memory_limit: Decimal(-1, MAX_GIB).refine(unlimitedOr, "must be -1 (unlimited) or at least 0").optional(),
});

export const StorageLimitInput = z.object({
  storage_domain: Ref.optional(),
  limit: Int(-1, MAX_GIB).optional(),
});
