/**
 * Typed identifiers and sizes shared by engine and node (zod). Every id that crosses a process
 * boundary is validated here once, at the edge; inner code trusts the branded types.
 * Never accepts anything that could act as a path component other than a canonical UUID.
 */
import { z } from "zod";
import { UUID_RE } from "./ids.js";

/** A canonical lower-case UUID (the zero UUID included). Upper case is accepted and folded. */
export const Uuid = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => UUID_RE.test(s), { message: "not a UUID" });
export type Uuid = z.infer<typeof Uuid>;

/** Largest volume Vela accepts: 1 PiB. Anything above is a typo, not a disk. */
export const MAX_VOLUME_BYTES = 2 ** 50;

/**
 * A size in bytes. XML-RPC clients send sizes as strings (VDSM did, since XML-RPC ints are
 * 32-bit), so both numbers and decimal strings are accepted.
 */
export const Bytes = z
  .union([z.number(), z.string().regex(/^[0-9]+$/, "not a decimal size")])
  .transform((v) => Number(v))
  .refine((n) => Number.isSafeInteger(n) && n >= 0, { message: "size must be a non-negative integer" })
  .refine((n) => n <= MAX_VOLUME_BYTES, { message: "size is larger than 1 PiB" });
export type Bytes = z.infer<typeof Bytes>;

/** Free text with a bound, as VDSM bounds descriptions. */
export const Text = (max: number) => z.string().max(max, `longer than ${max} characters`);
