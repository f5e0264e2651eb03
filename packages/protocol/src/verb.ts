/**
 * The shape of one node verb. A verb is declared once, here in `protocol`, and both transports
 * (XML-RPC with VDSM's flat names and positional parameters, JSON-RPC 2.0 with `Namespace.verb`
 * names and named parameters) and the engine's typed client are generated from that declaration.
 * This module does no I/O.
 */
import { z } from "zod";

export interface ParamDef<N extends string = string, S extends z.ZodType = z.ZodType> {
  /** Name seen by handlers (VDSM's XML-RPC argument name). */
  readonly name: N;
  /** Name of the member in a JSON-RPC `params` object (VDSM 4.x schema name). */
  readonly json: string;
  readonly schema: S;
}

export interface VerbDef<P extends readonly ParamDef[] = readonly ParamDef[], R extends z.ZodType = z.ZodType, K extends string | undefined = string | undefined> {
  /** Flat XML-RPC method name, e.g. `createVolume`. */
  readonly xml: string;
  /** JSON-RPC method name, e.g. `Volume.create`. */
  readonly json: string;
  /** Parameters in XML-RPC positional order. Optional ones are last. */
  readonly params: P;
  /**
   * The member of the VDSM response that JSON-RPC returns as `result` (VDSM's API bridge did the
   * same); without it JSON-RPC returns `true`.
   */
  readonly result: K;
  /**
   * Schema of what JSON-RPC returns as `result`: the `result` member's value, or `true` for a
   * verb without one. The engine's client is typed from it; a node test parses real answers.
   */
  readonly returns: R;
  /** False for a verb declared without a result schema (`returns` is then `unknown`). */
  readonly typed: boolean;
}

/** How a verb answers: the member JSON-RPC returns and its schema. */
export interface Returns<R extends z.ZodType = z.ZodType, K extends string | undefined = string | undefined> {
  readonly key: K;
  readonly schema: R;
}

/** The verb answers its response member `key`, shaped as `schema`. */
export function out<const K extends string, R extends z.ZodType>(key: K, schema: R): Returns<R, K> {
  return { key, schema };
}

/** `result` of a verb whose JSON-RPC answer is its whole response but `status` (VDSM's Volume.getSize). */
export const ALL_MEMBERS = "*" as const;

/** The verb answers all members of its response (but `status`), shaped as `schema`. */
export function members<R extends z.ZodType>(schema: R): Returns<R, typeof ALL_MEMBERS> {
  return { key: ALL_MEMBERS, schema };
}

/** The verb answers nothing but success: JSON-RPC's `result` is `true`. */
export const done: Returns<z.ZodLiteral<true>, undefined> = { key: undefined, schema: z.literal(true) };

/** A parameter; `json` defaults to the XML name. */
export function p<N extends string, S extends z.ZodType>(name: N, schema: S, json?: string): ParamDef<N, S> {
  return { name, schema, json: json ?? name };
}

/**
 * Declares a verb. `returns` is `out(key, schema)` or `done`; a bare member name (or nothing) is
 * the untyped form a verb may use while its answer has no schema yet (protocol's test names it).
 */
export function verb<const P extends readonly ParamDef[], R extends z.ZodType, K extends string | undefined>(xml: string, json: string, params: P, returns: Returns<R, K>): VerbDef<P, R, K>;
export function verb<const P extends readonly ParamDef[]>(xml: string, json: string, params: P, result?: string): VerbDef<P, z.ZodUnknown>;
export function verb(xml: string, json: string, params: readonly ParamDef[], returns?: Returns | string): VerbDef {
  if (returns === undefined || typeof returns === "string") return { xml, json, params, result: returns, returns: z.unknown(), typed: false };
  return { xml, json, params, result: returns.key, returns: returns.schema, typed: true };
}

/** The typed argument object a handler receives for a verb. */
export type ParamsOf<V extends VerbDef> = {
  [E in V["params"][number] as E["name"]]: z.output<E["schema"]>;
};

/** The argument object a caller passes (before validation and transforms). */
export type InputOf<V extends VerbDef> = {
  [E in V["params"][number] as E["name"]]: z.input<E["schema"]>;
};

/** What the verb's JSON-RPC call resolves with. */
export type ResultOf<V extends VerbDef> = z.output<V["returns"]>;

/**
 * What a handler returns: the members of VDSM's response other than `status`
 * (e.g. `{ uuid: taskId }` for createVolume).
 */
export type VerbResult = Record<string, unknown>;

/**
 * What a verb's handler returns, typed from its result schema: the member JSON-RPC answers (with
 * any others XML-RPC shows), all the members for `members()`, or anything for `done`.
 */
export type HandlerResult<V extends VerbDef> = V["result"] extends typeof ALL_MEMBERS
  ? z.input<V["returns"]> & VerbResult
  : V["result"] extends string
    ? { [M in V["result"]]: z.input<V["returns"]> } & VerbResult
    : VerbResult;
