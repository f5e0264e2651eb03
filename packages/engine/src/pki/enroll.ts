/**
 * A node's enrollment (oVirt's host-deploy, done by the node itself): the node sends its
 * registration and a certificate request for the key it made; the engine registers the host and,
 * when the node proves it holds the registration token, signs the request as that host's
 * certificate (CN = host id, the registered address as its only name). `GET /vela/v1/pki/ca`
 * gives a node that knows the token, but not yet the CA, the CA with an HMAC under the token, so
 * the node can tell the real engine from a man in the middle before trusting it.
 */
import { createHmac } from "node:crypto";
import { z } from "zod";
import { tokenOk } from "../commands/RegisterHost.js";
import { ApiFault } from "../api/fault.js";
import { type Call, ok, type Reply } from "../api/call.js";
import { registerHost } from "../api/resources/internal.js";
import type { Engine } from "../engine.js";
import type { Pki } from "./ca.js";

/** Node certificates live five years (renewal is a re-enrollment). */
const NODE_DAYS = 1825;

const Csr = z.string().min(1).max(16_384);

function pkiOf(e: Engine): Pki {
  if (!e.pki) throw new ApiFault(404, "Not Found", "the engine runs without TLS (VELA_ENGINE_TLS=off): there is no CA to enroll with");
  return e.pki;
}

/** The CA for a node that has the token: the PEM and HMAC-SHA256(token, PEM) in hex. */
export async function caForToken(c: Call): Promise<Reply> {
  const pki = pkiOf(c.engine);
  const token = c.engine.cfg.registrationToken;
  if (!token) throw new ApiFault(404, "Not Found", "no registration token is configured on the engine: give the node the CA file (VELA_ENGINE_CA)");
  return ok("ca", { ca: pki.caPem, mac: createHmac("sha256", token).update(pki.caPem).digest("hex") });
}

export async function enroll(c: Call): Promise<Reply> {
  const pki = pkiOf(c.engine);
  const { csr: rawCsr, ...registration } = (c.body?.value ?? {}) as Record<string, unknown>;
  const csr = Csr.safeParse(rawCsr);
  if (!csr.success) throw new ApiFault(400, "Incomplete parameters", "enrollment [csr] required: a PEM certificate request");
  const host = await registerHost(c.engine, registration);
  if (!tokenOk(c.engine, typeof registration.token === "string" ? registration.token : undefined)) {
    return ok("enrollment", { id: host.id, status: host.status, detail: "a certificate is issued to a node that presents the registration token" }, 202);
  }
  const certificate = await pki.sign(csr.data, { cn: host.id, kind: "node", sans: [host.address], days: NODE_DAYS }).catch((err: unknown) => {
    throw new ApiFault(400, "Operation Failed", `cannot sign the certificate request: ${(err as Error).message}`);
  });
  c.engine.log.info({ host: host.name, id: host.id }, "signed the node certificate");
  return ok("enrollment", { id: host.id, status: host.status, certificate, ca: pki.caPem });
}
