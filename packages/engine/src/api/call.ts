/**
 * What a REST handler sees (`Call`) and returns (`Reply`), independent of the HTTP framework:
 * resources build representation trees, the server renders them as XML or JSON.
 */
import { asUuid } from "../db/ids.js";
import type { Engine } from "../engine.js";
import type { ParsedBody } from "./body.js";
import { ApiFault, notFound } from "../errors/fault.js";
import type { Rep } from "./repr.js";
import type { Principal } from "../permissions/access.js";

export interface Call {
  engine: Engine;
  params: Record<string, string>;
  query: Record<string, string>;
  body?: ParsedBody;
  /** The request's Accept header (for replies that are not XML/JSON, such as a .vv file). */
  accept?: string;
  /** `scheme://host[:port]` the client reached the engine at (absolute URLs it can use back: a transfer's proxy_url). */
  origin?: string;
  /** Who sent the request (absent on Vela's internal routes, which authenticate themselves). */
  user?: Principal;
  /** The host id a verified client certificate of the engine CA names (nodes present theirs). */
  peerHost?: string;
}

export interface Reply {
  status: number;
  /** Root element name (XML); absent for an empty body. */
  root?: string;
  rep?: Rep;
  /** A body that is not a representation (image/png, text/plain, a .vv file), sent as is. */
  raw?: { type: string; body: string | Buffer; filename?: string };
}

export type Handler = (c: Call) => Promise<Reply>;

/** Answers many GETs of one route at once (the same replies, in order, as the handler one by one). */
export type BatchHandler = (cs: Call[]) => Promise<Reply[]>;

/** A path id: anything that is not a UUID cannot name an entity, so it is a 404 (as oVirt answers). */
export function pathId(c: Call, param: string, what: string): string {
  const raw = c.params[param] ?? "";
  const id = asUuid(raw);
  if (!id) throw notFound(what, raw.slice(0, 80));
  return id;
}

/** The request body's tree, checking the XML root element when there is one. */
export function bodyOf(c: Call, roots: string[]): unknown {
  if (!c.body) return {};
  if (c.body.root !== undefined && !roots.includes(c.body.root)) {
    throw new ApiFault(400, "Bad Request", `expected <${roots[0]}> as the body's root element, got <${c.body.root}>`);
  }
  return c.body.value;
}

export function ok(root: string, rep: Rep, status = 200): Reply {
  return { status, root, rep };
}
