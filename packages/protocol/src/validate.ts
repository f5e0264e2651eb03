/**
 * Turns raw transport arguments into a handler's typed parameters, or a VdsmError
 * (InvalidParameter) naming the first bad parameter. Used by both transports so validation
 * happens once, at the edge.
 */
import type { z } from "zod";
import { VdsmError } from "./errors.js";
import type { ParamDef, VerbDef } from "./verb.js";

function check(param: ParamDef, value: unknown): unknown {
  const r = (param.schema as z.ZodType).safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? `.${issue.path.join(".")}` : "";
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : typeof value;
  throw new VdsmError("InvalidParameter", `${param.name}${where}=${shown}: ${issue?.message ?? "invalid"}`);
}

/** XML-RPC: positional arguments. */
export function parsePositional(def: VerbDef, args: readonly unknown[]): Record<string, unknown> {
  if (args.length > def.params.length) {
    throw new VdsmError("InvalidParameter", `${def.xml} takes at most ${def.params.length} arguments, got ${args.length}`);
  }
  const out: Record<string, unknown> = {};
  def.params.forEach((param, i) => {
    out[param.name] = check(param, args[i]);
  });
  return out;
}

/** JSON-RPC: named arguments (by the VDSM 4.x JSON names). Unknown names are refused. */
export function parseNamed(def: VerbDef, args: Record<string, unknown>): Record<string, unknown> {
  const known = new Set(def.params.map((x) => x.json));
  for (const k of Object.keys(args)) {
    if (!known.has(k)) throw new VdsmError("InvalidParameter", `${def.json} has no parameter ${k}`);
  }
  const out: Record<string, unknown> = {};
  for (const param of def.params) out[param.name] = check(param, args[param.json]);
  return out;
}
