/**
 * A node's enrollment (oVirt's host-deploy, done by the node itself): the node sends its
 * registration and a certificate request for the key it made; the engine registers the host and,
 * when the node proves it holds the registration token, signs the request as that host's
 * certificate (CN = host id, the registered address as its only name). Without the token the
 * host waits in pending_approval with the fingerprint of its key recorded; once an administrator
 * approves the host (POST /hosts/{id}/approve), the next request for that same key is signed —
 * a different key is refused, so nobody can slip their key under an approval. `GET /vela/v1/pki/ca`
 * gives a node that knows the token, but not yet the CA, the CA with an HMAC under the token, so
 * the node can tell the real engine from a man in the middle before trusting it.
 */
import { createHmac, X509Certificate } from "node:crypto";
import { z } from "zod";
import { type Call, ok, type Reply } from "../api/call.js";
import { registerHost } from "../api/resources/internal.js";
import { tokenOk } from "../commands/RegisterHost.js";
import { type Host, now } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { ApiFault, conflict } from "../errors/fault.js";
import { caKeyForToken } from "../hosts/jointokens.js";
import { type Pki, requestKeyFingerprint } from "./ca.js";

/** Node certificates live five years (renewal is a re-enrollment). */
export const NODE_DAYS = 1825;

const Csr = z.string().min(1).max(16_384);

function pkiOf(e: Engine): Pki {
  if (!e.pki) throw new ApiFault(404, "Not Found", "the engine runs without TLS (VELA_ENGINE_TLS=off): there is no CA to enroll with");
  return e.pki;
}

/** The CA for a node that has the token: the PEM and HMAC-SHA256(token, PEM) in hex. */
export async function caForToken(c: Call): Promise<Reply> {
  const pki = pkiOf(c.engine);
  // A one-time join token names itself by its id; the HMAC key is its stored hash.
  const tokenId = c.query.token_id;
  if (tokenId !== undefined) return ok("ca", { ca: pki.caPem, mac: createHmac("sha256", await caKeyForToken(c.engine.db, tokenId)).update(pki.caPem).digest("hex") });
  const token = c.engine.cfg.registrationToken;
  if (!token) throw new ApiFault(404, "Not Found", "no registration token is configured on the engine: give the node the CA file (VELA_ENGINE_CA)");
  return ok("ca", { ca: pki.caPem, mac: createHmac("sha256", token).update(pki.caPem).digest("hex") });
}

function badRequest(err: unknown): never {
  throw new ApiFault(400, "Operation Failed", `cannot use the certificate request: ${(err as Error).message}`);
}

/** A host with a recorded key (pending, or approved for it) takes no request for another key. */
async function refuseOtherKey(e: Engine, hostUuid: unknown, key: string): Promise<void> {
  if (typeof hostUuid !== "string") return; // the registration's own validation answers
  const id = hostUuid.toLowerCase();
  const host = await e.db.selectFrom("hosts").select(["id", "name", "status", "created_at"]).where("id", "=", id).executeTakeFirst();
  const row = await e.db.selectFrom("host_enrollments").selectAll().where("host_id", "=", id).executeTakeFirst();
  if (!host || !row || row.created_at < host.created_at || row.key_sha256 === key) return;
  if (host.status === "pending_approval" || host.status === "installing") {
    throw conflict(`Cannot enroll Host ${host.name}: another key is waiting for approval as this host; remove the host to enroll a new key`);
  }
  throw new ApiFault(403, "Forbidden", `Host ${host.name} was approved for another key: remove the host and enroll again, or enroll with the registration token`);
}

/** The host id whose enrolled key this is (the request proves the caller holds it), else undefined. */
async function enrolledAs(e: Engine, hostUuid: unknown, key: string): Promise<string | undefined> {
  if (typeof hostUuid !== "string") return undefined;
  const row = await e.db.selectFrom("host_enrollments").select(["host_id", "key_sha256"]).where("host_id", "=", hostUuid.toLowerCase()).executeTakeFirst();
  return row?.key_sha256 === key ? row.host_id : undefined;
}

/**
 * Enrollment without the token: the 202 answer while the host waits for approval (its key
 * recorded on the first request), undefined once the host is approved for this very key.
 */
async function awaitingApproval(e: Engine, host: Host, key: string): Promise<Reply | undefined> {
  const row = await e.db.selectFrom("host_enrollments").selectAll().where("host_id", "=", host.id).executeTakeFirst();
  if (host.status === "pending_approval" || host.status === "installing") {
    // a row older than the host is from a removed host of the same id
    if (!row || row.created_at < host.created_at) {
      await e.db.deleteFrom("host_enrollments").where("host_id", "=", host.id).execute();
      await e.db.insertInto("host_enrollments").values({ host_id: host.id, key_sha256: key, created_at: now() }).execute();
      e.log.warn({ host: host.name, id: host.id, address: host.address, key }, "host waits for approval: compare its key fingerprint with the node's log before approving");
    }
    return ok("enrollment", { id: host.id, status: host.status, key_fingerprint: key, detail: "waiting for an administrator to approve the host" }, 202);
  }
  if (row?.key_sha256 === key) return undefined;
  throw new ApiFault(403, "Forbidden", `Host ${host.name} was not approved for this key: remove the host and enroll again, or enroll with the registration token`);
}

export async function enroll(c: Call): Promise<Reply> {
  const pki = pkiOf(c.engine);
  const { csr: rawCsr, ...registration } = (c.body?.value ?? {}) as Record<string, unknown>;
  const csr = Csr.safeParse(rawCsr);
  if (!csr.success) throw new ApiFault(400, "Incomplete parameters", "enrollment [csr] required: a PEM certificate request");
  const withToken = await tokenOk(c.engine, typeof registration.token === "string" ? registration.token : undefined, registration.hostUuid);
  // Without the token, a request for another key than the one recorded changes nothing (not even the host's address).
  const key = withToken ? undefined : await requestKeyFingerprint(csr.data).catch(badRequest);
  if (key) await refuseOtherKey(c.engine, registration.hostUuid, key);
  // the key this host was approved for proves the caller is that host (a request signed with it)
  const host = await registerHost(c.engine, registration, key ? await enrolledAs(c.engine, registration.hostUuid, key) : c.peerHost);
  if (key) {
    const waiting = await awaitingApproval(c.engine, host, key);
    if (waiting) return waiting;
  }
  const certificate = await pki.sign(csr.data, { cn: host.id, kind: "node", sans: [host.address], days: NODE_DAYS }).catch(badRequest);
  // recorded by serial: removing the host revokes it (pki/revocation.ts)
  await c.engine.db.insertInto("host_certificates").values({ serial: new X509Certificate(certificate).serialNumber.toUpperCase(), host_id: host.id, issued_at: now(), revoked_at: null }).execute();
  c.engine.log.info({ host: host.name, id: host.id }, "signed the node certificate");
  return ok("enrollment", { id: host.id, status: host.status, certificate, ca: pki.caPem });
}
