/**
 * Validation of API input into typed values (zod). XML gives every value as a string and oVirt's
 * JSON does too, so numbers and booleans accept both forms. Every check names the offending field;
 * a missing required field is oVirt's "Incomplete parameters" fault, anything else "Operation
 * Failed" with the reason, both 400. Nothing leaves here unchecked. Commands parse their own input
 * with these, so this module sits below api/ and commands/ and imports neither.
 */
import { z } from "zod";
import { asUuid } from "../db/ids.js";
import { ApiFault } from "../errors/fault.js";

export const Uuid = z.string().transform((s, ctx) => {
  const u = asUuid(s);
  if (!u) {
    ctx.addIssue({ code: "custom", message: `'${s.slice(0, 60)}' is not a valid UUID` });
    return z.NEVER;
  }
  return u;
});

/** A display name: printable, no path separators or control characters. */
export const Name = z
  .string()
  .min(1, "must not be empty")
  .max(255, "longer than 255 characters")
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
  .regex(/^[^\u0000-\u001f\u007f/\\]+$/, "contains control characters or slashes");

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters except tab/newline
export const Text = (max: number) => z.string().max(max, `longer than ${max} characters`).regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f]*$/, "contains control characters");

export function Int(min: number, max: number) {
  return z
    .union([z.number(), z.string().trim().regex(/^-?[0-9]+$/, "not an integer")])
    .transform((v) => Number(v))
    .refine((n) => Number.isSafeInteger(n), "not an integer")
    .refine((n) => n >= min && n <= max, `out of range (${min}..${max})`);
}

export const Bool = z
  .union([z.boolean(), z.enum(["true", "false", "TRUE", "FALSE", "True", "False"])])
  .transform((v) => v === true || (typeof v === "string" && v.toLowerCase() === "true"));

/** An enum value, compared case-insensitively (oVirt's enums are lower case on the wire). */
export function Enum<const T extends readonly string[]>(values: T) {
  return z.string().transform((s, ctx) => {
    const l = s.toLowerCase();
    if (!(values as readonly string[]).includes(l)) {
      ctx.addIssue({ code: "custom", message: `'${s.slice(0, 40)}' is not one of ${values.join(", ")}` });
      return z.NEVER;
    }
    return l as T[number];
  });
}

/** A reference to another object, by id or by name. */
export const Ref = z
  .object({ id: Uuid.optional(), name: Name.optional() })
  .refine((r) => r.id !== undefined || r.name !== undefined, "needs an id or a name");
export type Ref = z.infer<typeof Ref>;

/** `<storage_domains><storage_domain id/></storage_domains>` or JSON `{"storage_domain":[…]}`: a one-or-many list. */
export function ListOf<T extends z.ZodType>(item: string, schema: T) {
  return z.object({ [item]: z.union([schema, z.array(schema)]) }).transform((o) => {
    const v = o[item] as z.output<T> | z.output<T>[];
    return Array.isArray(v) ? v : [v];
  });
}

function path(issue: z.core.$ZodIssue): string {
  return issue.path.map(String).join(".");
}

/** Parses input against a schema, or throws the 400 fault naming what is wrong. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what: string, action = "add"): z.output<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const missing = r.error.issues.filter((i) => i.code === "invalid_type" && /received undefined/.test(i.message));
  if (missing.length > 0) {
    throw new ApiFault(400, "Incomplete parameters", `${what} [${missing.map(path).join(", ")}] required for ${action}`);
  }
  const first = r.error.issues[0];
  const where = first ? path(first) : "";
  throw new ApiFault(400, "Operation Failed", `Invalid ${what}${where ? ` ${where}` : ""}: ${first?.message ?? "invalid"}`);
}
