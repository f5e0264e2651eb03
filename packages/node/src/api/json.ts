/**
 * JSON-RPC 2.0 transport at /jsonrpc with VDSM 4.x names (`Volume.create`) and named parameters.
 * As VDSM's bridge did, a success returns one member of the VDSM response (the verb's `result`
 * key, or all of it but `status` for a verb whose answer is the response) and a failure returns `error: {code, message}` with the storage error's code.
 * Batches are supported; notifications (no id) get no answer.
 */
import { ALL_MEMBERS, byJsonName, ErrorCodes, type Handlers, jsonDepth, MAX_BODY_DEPTH, parseNamed } from "@vela/protocol";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../log.js";
import { dispatch } from "./dispatch.js";

interface RpcError {
  code: number;
  message: string;
}
type RpcReply = { jsonrpc: "2.0"; id: unknown } & ({ result: unknown } | { error: RpcError });

export const INVALID_REQUEST = -32600;
const PARSE_ERROR = -32700;
/** The most requests one batch may carry: each runs a verb. */
const MAX_BATCH = 100;

async function one(handlers: Handlers, req: unknown, log: Logger): Promise<RpcReply | undefined> {
  if (typeof req !== "object" || req === null || Array.isArray(req)) {
    return { jsonrpc: "2.0", id: null, error: { code: INVALID_REQUEST, message: "request must be an object" } };
  }
  const r = req as Record<string, unknown>;
  const id = r.id ?? null;
  if (r.jsonrpc !== "2.0" || typeof r.method !== "string") {
    return { jsonrpc: "2.0", id, error: { code: INVALID_REQUEST, message: "not a JSON-RPC 2.0 request" } };
  }
  const entry = byJsonName.get(r.method);
  if (!entry) {
    return { jsonrpc: "2.0", id, error: { code: ErrorCodes.methodNotFound.code, message: `method "${r.method}" is not supported` } };
  }
  const [name, def] = entry;
  const params = r.params ?? {};
  const resp = await dispatch(
    handlers,
    name,
    def,
    () => {
      if (typeof params !== "object" || params === null || Array.isArray(params)) {
        return parseNamed(def, { __positional__: params });
      }
      return parseNamed(def, params as Record<string, unknown>);
    },
    log,
  );
  if (r.id === undefined) return undefined;
  if (resp.status.code !== 0) return { jsonrpc: "2.0", id, error: { code: resp.status.code, message: resp.status.message } };
  return { jsonrpc: "2.0", id, result: resultOf(def.result, resp) };
}

/** The JSON-RPC `result` of a successful response: one member, all but `status`, or `true`. */
function resultOf(key: string | undefined, resp: Record<string, unknown>): unknown {
  if (key === undefined) return true;
  if (key === ALL_MEMBERS) {
    const { status: _status, ...rest } = resp;
    return rest;
  }
  return resp[key] ?? null;
}

export function registerJsonRpc(app: FastifyInstance, handlers: Handlers, log: Logger): void {
  app.post("/jsonrpc", async (req, reply) => {
    const raw = req.body;
    let body: unknown;
    if (typeof raw === "string" && jsonDepth(raw) > MAX_BODY_DEPTH) {
      return reply.send({ jsonrpc: "2.0", id: null, error: { code: INVALID_REQUEST, message: `nested deeper than ${MAX_BODY_DEPTH} levels` } });
    }
    try {
      body = typeof raw === "string" ? JSON.parse(raw) : raw;
    } catch {
      return reply.send({ jsonrpc: "2.0", id: null, error: { code: PARSE_ERROR, message: "parse error" } });
    }
    if (Array.isArray(body)) {
      if (body.length === 0 || body.length > MAX_BATCH) {
        return reply.send({ jsonrpc: "2.0", id: null, error: { code: INVALID_REQUEST, message: `a batch holds 1 to ${MAX_BATCH} requests` } });
      }
      const replies = (await Promise.all(body.map((b) => one(handlers, b, log)))).filter((x) => x !== undefined);
      return reply.send(replies);
    }
    const res = await one(handlers, body, log);
    return res === undefined ? reply.code(204).send() : reply.send(res);
  });
}
