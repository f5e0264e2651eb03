/**
 * Revocation of node certificates: a removed host's certificates are marked revoked in
 * `host_certificates` (RemoveHost), and every TLS connection that presents a certificate of the
 * engine CA is checked against that list once, before its first request is served — a revoked
 * one gets 403 on every request of the connection and names no host. Read from the database,
 * not a copy in memory, so a standby engine on the same database refuses it too.
 */
import type { TLSSocket } from "node:tls";
import type { Engine } from "../engine.js";

const checked = new WeakMap<TLSSocket, Promise<boolean>>();

/** Is the verified client certificate of this connection revoked? (false without one) */
export function revokedPeer(e: Engine, sock: TLSSocket): Promise<boolean> {
  let p = checked.get(sock);
  if (!p) {
    const serial = sock.authorized ? sock.getPeerCertificate()?.serialNumber : undefined;
    p = serial
      ? e.db
          .selectFrom("host_certificates")
          .select("revoked_at")
          .where("serial", "=", serial.toUpperCase())
          .executeTakeFirst()
          .then((r) => typeof r?.revoked_at === "string")
      : Promise.resolve(false);
    checked.set(sock, p);
  }
  return p;
}
