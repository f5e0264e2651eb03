/**
 * The engine's client of a node agent: JSON-RPC 2.0 over HTTPS with the engine's client
 * certificate (plain HTTP only when TLS is off) (POST /jsonrpc), typed from the
 * protocol verb table. Arguments are checked against the verb's schemas before they leave (an
 * engine bug must not reach a node); the wire uses the VDSM 4.x JSON names.
 * Never retries a call by itself: callers decide, since most verbs are not idempotent.
 * The protocol module (and zod with it) is loaded on the first call, off the start-up path.
 */
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { InputOf, ResultOf, VerbName, Verbs } from "@vela/protocol";
import type { Logger } from "../log.js";

/** The node answered with a JSON-RPC error (VDSM code and message). */
export class NodeError extends Error {
  constructor(
    readonly verb: string,
    readonly code: number,
    readonly nodeMessage: string,
  ) {
    super(`${verb} failed on node: ${nodeMessage} (code ${code})`);
    this.name = "NodeError";
  }
}

/** The node could not be reached or did not answer in time. */
export class NodeUnreachable extends Error {
  constructor(
    readonly verb: string,
    readonly target: string,
    cause: unknown,
  ) {
    super(`${verb}: node ${target} unreachable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "NodeUnreachable";
  }
}

export interface NodeTarget {
  address: string;
  port: number;
}

/** The engine's CA (the only one a node certificate may chain to) and its client certificate. */
export interface NodeTls {
  ca: string;
  cert: string;
  key: string;
}

/** Opens a request to a node: over TLS with the engine's certificate, or plain when TLS is off. */
export type NodeRequest = (opts: RequestOptions, cb?: (res: IncomingMessage) => void) => ClientRequest;

/** What a verb's JSON-RPC call resolves with, from the verb's result schema in the protocol table. */
export type Result<K extends VerbName> = ResultOf<Verbs[K]>;

/** A verb's arguments, where those that may be undefined (optional, defaulted) may be left out. */
type Required_<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] };
type Optional_<T> = { [K in keyof T as undefined extends T[K] ? K : never]?: T[K] };
export type CallInput<K extends VerbName> = Required_<InputOf<Verbs[K]>> & Optional_<InputOf<Verbs[K]>>;

type Protocol = typeof import("@vela/protocol");
let protocol: Promise<Protocol> | undefined;
function loadProtocol(): Promise<Protocol> {
  protocol ??= import("@vela/protocol");
  return protocol;
}

let nextId = 1;

export class NodeClient {
  constructor(
    readonly target: NodeTarget,
    private agent: Agent,
    private request: NodeRequest,
    private timeoutMs: number,
    private log: Logger,
  ) {}

  get label(): string {
    return `${this.target.address}:${this.target.port}`;
  }

  /** Calls one verb; resolves with its JSON-RPC result. */
  async call<K extends VerbName>(name: K, input: CallInput<K>, opts: { timeoutMs?: number } = {}): Promise<Result<K>> {
    const { verbs } = await loadProtocol();
    const def = verbs[name];
    const params: Record<string, unknown> = {};
    const args = input as Record<string, unknown>;
    for (const param of def.params) {
      const v = args[param.name];
      if (v === undefined) continue;
      const r = param.schema.safeParse(v);
      if (!r.success) throw new Error(`engine bug: ${name}.${param.name} invalid: ${r.error.issues[0]?.message}`);
      params[param.json] = v;
    }
    const id = nextId++;
    const body = JSON.stringify({ jsonrpc: "2.0", id, method: def.json, params });
    const started = Date.now();
    let reply: unknown;
    try {
      reply = await this.post(body, opts.timeoutMs ?? this.timeoutMs);
    } catch (err) {
      throw new NodeUnreachable(def.json, this.label, err);
    }
    const r = reply as { result?: unknown; error?: { code?: number; message?: string } };
    this.log.debug({ node: this.label, verb: def.json, ms: Date.now() - started, ok: !r.error }, "node call");
    if (r.error) throw new NodeError(def.json, Number(r.error.code ?? -1), String(r.error.message ?? "unknown error"));
    if (!("result" in r)) throw new NodeError(def.json, -1, "reply without result");
    return r.result as Result<K>;
  }

  private post(body: string, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = this.request(
        {
          host: this.target.address,
          port: this.target.port,
          path: "/jsonrpc",
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), accept: "application/json" },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > 64 * 1024 * 1024) req.destroy(new Error("reply larger than 64 MiB"));
            else chunks.push(c);
          });
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new Error(`HTTP ${res.statusCode}: not JSON: ${text.slice(0, 200)}`));
            }
          });
          res.on("error", reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}

/** One client per node address, sharing a keep-alive agent. */
export class NodeClients {
  private agent: Agent;
  /** Requests to nodes without the shared agent (connection upgrades: the serial console). */
  readonly request: NodeRequest;

  constructor(private opts: { timeoutMs: number; log: Logger; tls?: NodeTls }) {
    const tls = opts.tls;
    if (tls) {
      // The node's certificate must chain to our CA and name the address we call (default identity check).
      this.agent = new HttpsAgent({ keepAlive: true, maxSockets: 8, ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" });
      this.request = (o, cb) => httpsRequest({ ...o, ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, cb);
    } else {
      this.agent = new Agent({ keepAlive: true, maxSockets: 8 });
      this.request = (o, cb) => httpRequest(o, cb);
    }
  }

  for(target: NodeTarget): NodeClient {
    const request: NodeRequest = (o, cb) => (this.opts.tls ? httpsRequest(o, cb) : httpRequest(o, cb));
    return new NodeClient({ address: target.address, port: target.port }, this.agent, request, this.opts.timeoutMs, this.opts.log);
  }

  /** A raw HTTP request to a node over the shared keep-alive connections (the image transfer proxy streams through it). */
  raw(target: NodeTarget, opts: RequestOptions, cb: (res: IncomingMessage) => void): ClientRequest {
    const request: NodeRequest = (o, c) => (this.opts.tls ? httpsRequest(o, c) : httpRequest(o, c));
    return request({ ...opts, host: target.address, port: target.port, agent: this.agent }, cb);
  }

  close(): void {
    this.agent.destroy();
  }
}
