/**
 * The engine's end of a VM's serial console: a fresh one-use ticket set on the VM's node
 * (setSerialTicket), then an HTTP upgrade to the node's serial relay presenting it. The resulting
 * socket carries the console's raw bytes both ways.
 */
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Engine } from "../engine.js";
import { runningOn } from "./index.js";

/** The node ticket only has to live from the verb to the upgrade right after it. */
const NODE_TICKET_TTL_SEC = 30;
const UPGRADE_TIMEOUT_MS = 10_000;

export async function openSerial(e: Engine, vmId: string): Promise<Duplex> {
  const { vm, host } = await runningOn(e, vmId, "reach the serial console");
  const ticket = randomBytes(32).toString("base64url");
  await e.nodes.for(host).call("setSerialTicket", { vmId: vm.id, ticket, ttl: NODE_TICKET_TTL_SEC });
  return new Promise((res, rej) => {
    const req = e.nodes.request({
      host: host.address,
      port: host.port,
      path: `/vela/console/${vm.id}/serial`,
      headers: { connection: "Upgrade", upgrade: "vela-serial", "x-vela-console-ticket": ticket },
      timeout: UPGRADE_TIMEOUT_MS,
    });
    req.on("upgrade", (_res, socket, head) => {
      socket.setNoDelay(true);
      if (head.length > 0) socket.unshift(head);
      res(socket);
    });
    req.on("response", (r) => {
      r.resume();
      rej(new Error(`node refused the serial console: HTTP ${r.statusCode}`));
    });
    req.on("timeout", () => req.destroy(new Error("node did not answer the serial console upgrade")));
    req.on("error", rej);
    req.end();
  });
}
