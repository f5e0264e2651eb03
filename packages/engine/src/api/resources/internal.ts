/**
 * Vela's internal endpoints for nodes (JSON only). Registration is authenticated by the shared
 * registration token, not by the admin password; without it a host only gets pending_approval.
 */
import { runCommand } from "../../commands/command.js";
import { RegisterHost } from "../../commands/RegisterHost.js";
import { joinPool } from "../../hosts/storage.js";
import { type Call, ok, type Reply } from "../call.js";
import { href } from "../href.js";

/** Registrations run one at a time: each may allocate a host id and checks name uniqueness. */
let queue: Promise<unknown> = Promise.resolve();

export async function register(c: Call): Promise<Reply> {
  const run = queue.then(() => runCommand(c.engine, RegisterHost, c.body?.value ?? {}));
  queue = run.catch(() => undefined);
  const host = await run;
  c.engine.log.info({ host: host.name, id: host.id, address: `${host.address}:${host.port}`, status: host.status }, "host registered");
  if (host.status === "up") c.engine.bg.run(`join pool ${host.id}`, () => joinPool(c.engine, host.id));
  return ok("host", { hostId: host.id, id: host.id, href: href("hosts", host.id), name: host.name, status: host.status }, 200);
}
