/**
 * The engine's image transfer proxy (oVirt's imageio proxy): `{PROXY_PATH}/{ticket}` on the
 * engine's own origin (what the portal and clients that cannot reach a host use), forwarded to the
 * transfer's host at `/images/{ticket}` over the engine's mutual-TLS link. Bodies stream both ways
 * (request → node, node → client), never buffered; `{ticket}/extents` (imageio's zero extents) is
 * forwarded the same way. A ticket that names no live transfer, or a method against the
 * transfer's direction, is refused here before any byte reaches a node.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { byId } from "../db/repo/entities.js";
import { LIVE_PHASES, transferByTicket } from "../db/repo/transfers.js";
import type { Engine } from "../engine.js";

export const PROXY_PATH = "/ovirt-engine/services/imageio/images";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LIVE = LIVE_PHASES;
/** Request headers the data path reads; nothing else (no credentials) goes to the node. */
const FORWARD_REQ = ["content-length", "content-range", "range", "content-type"];
const FORWARD_RES = ["content-length", "content-range", "content-type", "allow"];

function pick(h: IncomingHttpHeaders, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = h[n];
    if (typeof v === "string") out[n] = v;
  }
  return out;
}

function refuse(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type("text/plain").header("connection", "close").send(text);
}

/** `options` and `extents` are allowed in both directions; `suffix` follows the ticket in the node's path. */
async function forward(e: Engine, req: FastifyRequest, reply: FastifyReply, op: "read" | "write" | "options" | "extents", suffix = ""): Promise<FastifyReply | undefined> {
  const ticket = ((req.params as { ticket?: string }).ticket ?? "").toLowerCase();
  const t = UUID.test(ticket)
    ? await transferByTicket(e, ticket)
    : undefined;
  const allowed = t && LIVE.includes(t.phase) && (op === "options" || op === "extents" || (op === "write") === (t.direction === "upload"));
  if (!t || !allowed) return refuse(reply, 403, `You are not allowed to ${op === "options" || op === "extents" ? "access" : op} this image: no such ticket, or the transfer is not running`);
  const host = await byId(e, "hosts", t.host_id);
  if (!host) return refuse(reply, 403, "The transfer's host is gone");
  const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?")) : "";
  reply.hijack();
  const out = reply.raw;
  await new Promise<void>((resolve) => {
    const fail = (err: Error) => {
      e.log.warn({ err, transfer: ticket.slice(0, 8) }, "image proxy: node request failed");
      if (!out.headersSent) {
        out.writeHead(502, { "content-type": "text/plain", connection: "close" });
        out.end(`The transfer's host could not be reached: ${err.message}`);
      } else {
        out.destroy();
      }
      resolve();
    };
    const nodeReq = e.nodes.raw(host, { method: req.method, path: `/images/${ticket}${suffix}${query}`, headers: pick(req.headers, FORWARD_REQ) }, (res: IncomingMessage) => {
      out.writeHead(res.statusCode ?? 502, pick(res.headers, FORWARD_RES));
      res.pipe(out);
      res.once("end", () => resolve());
      res.once("error", fail);
    });
    nodeReq.once("error", fail);
    // The client going away mid-body ends the node's request too.
    req.raw.once("aborted", () => nodeReq.destroy());
    if (req.method === "OPTIONS" || req.method === "GET") nodeReq.end();
    else req.raw.pipe(nodeReq);
  });
  return undefined;
}

/** Mounts the proxy in its own scope: request bodies reach it as unread streams. */
export function registerImageProxy(app: FastifyInstance, e: Engine): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null, undefined));
    const path = `${PROXY_PATH}/:ticket`;
    scope.options(path, (req, reply) => forward(e, req, reply, "options"));
    scope.get(path, (req, reply) => forward(e, req, reply, "read"));
    scope.get(`${path}/extents`, (req, reply) => forward(e, req, reply, "extents", "/extents"));
    scope.put(path, (req, reply) => forward(e, req, reply, "write"));
    scope.patch(path, (req, reply) => forward(e, req, reply, "write"));
  });
}
