/**
 * The node's HTTP server: XML-RPC at /RPC2 and /, JSON-RPC at /jsonrpc, over one verb table.
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

export async function startServer(handlers: Handlers, log: Logger, port: number, host: string): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 16 * 2 ** 20, keepAliveTimeout: 30_000, ...faultOptions });
  registerFaults(app, log);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
  registerXmlRpc(app, handlers, log.child({ api: "xmlrpc" }));
  registerJsonRpc(app, handlers, log.child({ api: "jsonrpc" }));
  app.get("/health", async () => ({ ok: true }));
  await app.listen({ port, host });
  return app;
}
