/**
 * The node's HTTP server (mutual TLS unless VELA_NODE_TLS=off): XML-RPC at /RPC2 and /, JSON-RPC
 * at /jsonrpc, over one verb table.
 * Bodies are read as text and parsed by the transports, so a malformed body gets the protocol's
 * own error shape rather than a framework error page; so do oversized bodies, wrong methods and
 * paths, and requests the HTTP parser refuses (api/faults.ts).
 */
import type { Handlers } from "@vela/protocol";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "./log.js";
import { faultOptions, registerFaults } from "./api/faults.js";
import { registerJsonRpc } from "./api/json.js";
import { registerXmlRpc } from "./api/xmlrpc.js";

/** The node's certificate and key, and the engine CA its clients' certificates must chain to (PEM). */
export interface ServerTls {
  key: string;
  cert: string;
  ca: string;
}

/** Routes beside the RPC transports (the image transfer data path), mounted before listening. */
export type ExtraRoutes = (app: FastifyInstance) => void;

export async function startServer(handlers: Handlers, log: Logger, port: number, host: string, tls?: ServerTls, extra?: ExtraRoutes): Promise<FastifyInstance> {
  // With TLS, a client without a certificate the engine CA signed for a client (the engine, an
  // administrator's) fails the handshake: nothing of the node answers it. OpenSSL's client
  // purpose check refuses node certificates (server-only) as clients.
  const https = tls ? { https: { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" as const } } : {};
  const app = Fastify({ bodyLimit: 16 * 2 ** 20, keepAliveTimeout: 30_000, ...faultOptions, ...https });
  registerFaults(app, log);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
  registerXmlRpc(app, handlers, log.child({ api: "xmlrpc" }));
  registerJsonRpc(app, handlers, log.child({ api: "jsonrpc" }));
  app.get("/health", async () => ({ ok: true }));
  extra?.(app);
  await app.listen({ port, host });
  return app;
}
