/**
 * What a request may say about networks, profiles and NICs: the rules live here once, and the
 * commands trust them.
 */
import { z } from "zod";
import { Bool, Enum, Int, Ref, Text, Uuid } from "./input.js";
import { NIC_MODELS } from "../db/repo/nics.js";

/** What the node accepts as a network (bridge) name. */
export const NetName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,14}$/, "must be 1-15 of a-z A-Z 0-9 _ - (it names the bridge on hosts)");

const Usages = z.object({ usage: z.union([z.string(), z.array(z.string())]) });

/** The usages of a network as lower-case words (`vm`, `display`, …). */
export function usagesOf(u: z.output<typeof Usages> | undefined): string[] {
  return u ? [u.usage].flat().map((s) => s.toLowerCase()) : [];
}

export const NetworkInput = z.object({
  name: NetName,
  description: Text(4000).optional(),
  comment: Text(4000).optional(),
  data_center: Ref.optional(),
  vlan: z.object({ id: Int(0, 4094) }).optional(),
  mtu: Int(0, 9000).refine((n) => n === 0 || n >= 68, "out of range (68..9000, or 0 for the default)").optional(),
  usages: Usages.optional(),
});

export const ClusterNetworkInput = z.object({
  id: Uuid.optional(),
  name: NetName.optional(),
  required: Bool.optional(),
  usages: Usages.optional(),
});

export const ProfileInput = z.object({ name: z.string().min(1).max(50).regex(/^[a-zA-Z0-9_.-]+$/, "only a-z A-Z 0-9 _ . -"), description: Text(4000).optional(), network: Ref.optional() });

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

const Mac = z
  .string()
  .regex(MAC_RE, "not a MAC address (six hex pairs separated by colons)")
  .transform((s) => s.toLowerCase())
  .refine((s) => (Number.parseInt(s.slice(0, 2), 16) & 1) === 0, "is a multicast address")
  .refine((s) => s !== "00:00:00:00:00:00", "is the all-zero address");

export const NicInput = z.object({
  name: z.string().min(1).max(50).regex(/^[a-zA-Z0-9_.-]+$/, "only a-z A-Z 0-9 _ . -").optional(),
  interface: Enum(NIC_MODELS).optional(),
  mac: z.object({ address: Mac }).optional(),
  vnic_profile: z.object({ id: Uuid }).optional(),
  linked: Bool.optional(),
  plugged: Bool.optional(),
});
export type NicInput = z.output<typeof NicInput>;
