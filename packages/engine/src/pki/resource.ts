/**
 * oVirt's PKI resource, unauthenticated as in oVirt (a client needs the CA before it can trust
 * anything): `GET /ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA`
 * answers the engine CA, `resource=engine-certificate&format=X509-PEM` the engine's certificate.
 * Nothing secret is ever served here.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { toXml } from "../api/repr.js";
import type { Pki } from "./ca.js";

export const PKI_RESOURCE = "/ovirt-engine/services/pki-resource";

function fault(reply: FastifyReply, status: number, reason: string, detail: string): FastifyReply {
  return reply.code(status).type("application/xml").send(toXml("fault", { reason, detail }));
}

export function registerPkiResource(app: FastifyInstance, pki: Pki | undefined): void {
  app.get(PKI_RESOURCE, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const resource = typeof q.resource === "string" ? q.resource : "";
    const format = typeof q.format === "string" ? q.format : "";
    if (!pki) return fault(reply, 404, "Not Found", "the engine runs without TLS (VELA_ENGINE_TLS=off): it has no CA");
    if (resource === "ca-certificate" && (format === "X509-PEM-CA" || format === "X509-PEM")) {
      return reply.type(format === "X509-PEM-CA" ? "application/x-x509-ca-cert" : "application/x-x509-cert").send(pki.caPem);
    }
    if (resource === "engine-certificate" && format === "X509-PEM") return reply.type("application/x-x509-cert").send(pki.cert);
    return fault(
      reply,
      400,
      "Bad Request",
      "resource=ca-certificate (format X509-PEM-CA or X509-PEM) or resource=engine-certificate (format X509-PEM)",
    );
  });
}
