/**
 * Vela's internal endpoints for nodes (JSON only). Registration is authenticated by the shared
 * registration token, not by the admin password; without it a host only gets pending_approval.
 */
import type { Host } from "../../db/schema.js";
import type { Engine } from "../../engine.js";
import { runCommand } from "../../commands/command.js";
import { RegisterHost } from "../../commands/RegisterHost.js";
import { joinPool } from "../../hosts/storage.js";
import { type Call, ok, type Reply } from "../call.js";
import { href } from "../href.js";

/** Registrations run one at a time: each may allocate a host id and checks name uniqueness. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Registers (or re-registers) the host a node describes; an approved host joins its pool.
 * `provenHost`: the host id the caller proved to be (its client certificate, or the enrolled key).
 */
export async function registerHost(e: Engine, body: unknown, provenHost?: string): Promise<Host> {
  const run = queue.then(() => runCommand(e, RegisterHost, { body, provenHost }));
  queue = run.catch(() => undefined);
  const host = await run;
  e.log.info({ host: host.name, id: host.id, address: `${host.address}:${host.port}`, status: host.status }, "host registered");
  if (host.status === "up") e.bg.run(`join pool ${host.id}`, () => joinPool(e, host.id));
  return host;
}

export async function register(c: Call): Promise<Reply> {
  const host = await registerHost(c.engine, c.body?.value ?? {}, c.peerHost);
  return ok("host", { hostId: host.id, id: host.id, href: href("hosts", host.id), name: host.name, status: host.status }, 200);
}
