/**
 * `POST /hosts/{id}/enrollcertificate` (oVirt's Enroll Certificate): a fresh certificate for a
 * host's node agent. The node makes a new key and a request for it (as at its enrollment), the
 * engine CA signs it (CN = host id, the registered address), and the node switches to it — its
 * running VMs and open connections carry on; until the switch the old certificate is served and
 * stays valid (it is not revoked: removing the host revokes all of them). Only a host that has
 * been approved and answers can enroll (up or in maintenance).
 */
import { X509Certificate } from "node:crypto";
import { conflict } from "../errors/fault.js";
import { parseInput } from "../input/input.js";
import { z } from "zod";
import { type Host, now } from "../db/schema.js";
import { mustById } from "../db/repo/entities.js";
import { NODE_DAYS } from "../pki/enroll.js";
import type { CommandDef } from "./command.js";

/** Statuses in which the host is approved and its agent answers. */
const CAN_ENROLL = new Set(["up", "maintenance"]);

export const EnrollCertificate: CommandDef<{ id: string; body: unknown }, { host: Host }, Host> = {
  name: "enroll certificate",
  locks: (i) => [`host:${i.id}`],
  async validate(e, { id, body }) {
    const host = await mustById(e, "hosts", id);
    parseInput(z.object({}), body, "action", "enrollcertificate");
    if (!e.pki) throw conflict(`Cannot enroll certificate for Host ${host.name}: the engine runs without TLS (VELA_ENGINE_TLS=off)`);
    if (!CAN_ENROLL.has(host.status)) throw conflict(`Cannot enroll certificate for Host ${host.name}: it is ${host.status}; the host must be up or in maintenance`);
    return { host };
  },
  describe: (p) => `Enrolling a new certificate for Host ${p.host.name}`,
  async execute(e, { host }) {
    const pki = e.pki;
    if (!pki) throw conflict("the engine runs without TLS");
    const client = e.nodes.for(host);
    const csr = await client.call("certificateRequest", {});
    const certificate = await pki.sign(csr, { cn: host.id, kind: "node", sans: [host.address], days: NODE_DAYS });
    const serial = new X509Certificate(certificate).serialNumber.toUpperCase();
    // Recorded before the node has it: removing the host revokes it whatever happens next.
    await e.db.insertInto("host_certificates").values({ serial, host_id: host.id, issued_at: now(), revoked_at: null }).execute();
    try {
      await client.call("installCertificate", { certificate });
    } catch (err) {
      // Never served: revoked, so it can never be used.
      await e.db.updateTable("host_certificates").set({ revoked_at: now() }).where("serial", "=", serial).execute();
      throw err;
    }
    e.log.info({ host: host.name, serial }, "host certificate renewed");
    return host;
  },
};
