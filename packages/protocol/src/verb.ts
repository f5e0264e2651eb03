/**
 * The shape of one node verb. A verb is declared once, here in `protocol`, and both transports
 * (XML-RPC with VDSM's flat names and positional parameters, JSON-RPC 2.0 with `Namespace.verb`
 * names and named parameters) and the engine's typed client are generated from that declaration.
 * This module does no I/O.
 */
import type { z } from "zod";

export interface ParamDef<N extends string = string, S extends z.ZodType = z.ZodType> {
  /** Name seen by handlers (VDSM's XML-RPC argument name). */
  readonly name: N;
  /** Name of the member in a JSON-RPC `params` object (VDSM 4.x schema name). */
  readonly json: string;
  readonly schema: S;
}

export interface VerbDef<P extends readonly ParamDef[] = readonly ParamDef[]> {
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
  readonly result?: string;
  /** Schema of that result member, for callers that parse what a node answers. */
  readonly resultSchema?: z.ZodType;
}

/** A parameter; `json` defaults to the XML name. */
export function p<N extends string, S extends z.ZodType>(name: N, schema: S, json?: string): ParamDef<N, S> {
  return { name, schema, json: json ?? name };
}

export function verb<const P extends readonly ParamDef[]>(
  xml: string,
  json: string,
  params: P,
  result?: string,
  resultSchema?: z.ZodType,
): VerbDef<P> {
  return { xml, json, params, result, resultSchema };
}

/** The typed argument object a handler receives for a verb. */
export type ParamsOf<V extends VerbDef> = {
  [E in V["params"][number] as E["name"]]: z.output<E["schema"]>;
};

/** The argument object a caller passes (before validation and transforms). */
export type InputOf<V extends VerbDef> = {
  [E in V["params"][number] as E["name"]]: z.input<E["schema"]>;
};

/**
 * What a handler returns: the members of VDSM's response other than `status`
 * (e.g. `{ uuid: taskId }` for createVolume).
 */
export type VerbResult = Record<string, unknown>;
