/**
 * Which host a connection's client certificate proves, and revocation of node certificates.
 * Nodes present their certificates when they register; node certificates are for serverAuth
 * only (a node's certificate must not drive other nodes: their servers refuse it as a client),
 * so OpenSSL's purpose check fails them and the engine verifies them itself: signed by the engine
 * CA and within its validity. A removed host's certificates are marked revoked in
 * `host_certificates` (RemoveHost); each connection presenting one is checked against that list
 * once, and a revoked one gets 403 on every request and names no host. Read from the database,
 * not a copy in memory, so a standby engine on the same database refuses it too.
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { Engine } from "../engine.js";

export interface Peer {
  /** The certificate's CN (a node certificate's is its host id), lower-cased. */
  cn: string;
  serial: string;
}

const peers = new WeakMap<TLSSocket, Peer | null>();
const cas = new Map<string, X509Certificate>();

/** The connection's client certificate if the engine CA signed it and it is valid now, else undefined. */
export function peerOf(caPem: string | undefined, sock: TLSSocket): Peer | undefined {
  if (!caPem) return undefined;
  let p = peers.get(sock);
  if (p === undefined) {
    p = null;
    const raw = sock.getPeerCertificate()?.raw;
    if (raw?.length) {
      try {
        let ca = cas.get(caPem);
        if (!ca) {
          ca = new X509Certificate(caPem);
          cas.set(caPem, ca);
        }
        const x = new X509Certificate(raw);
        const now = Date.now();
        const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject)?.[1];
        if (cn && x.checkIssued(ca) && x.verify(ca.publicKey) && Date.parse(x.validFrom) <= now && now <= Date.parse(x.validTo)) {
          p = { cn: cn.toLowerCase(), serial: x.serialNumber.toUpperCase() };
        }
      } catch {
        p = null; // not a certificate we can read: no peer
      }
    }
    peers.set(sock, p);
  }
  return p ?? undefined;
}

const checked = new WeakMap<TLSSocket, Promise<boolean>>();

/** Is the connection's (engine-signed) client certificate revoked? (false without one) */
export function revokedPeer(e: Engine, caPem: string | undefined, sock: TLSSocket): Promise<boolean> {
  let r = checked.get(sock);
  if (!r) {
    const peer = peerOf(caPem, sock);
    r = peer
      ? e.db
          .selectFrom("host_certificates")
          .select("revoked_at")
          .where("serial", "=", peer.serial)
          .executeTakeFirst()
          .then((row) => typeof row?.revoked_at === "string")
      : Promise.resolve(false);
    checked.set(sock, r);
  }
  return r;
}
