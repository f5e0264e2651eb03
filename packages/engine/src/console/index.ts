/**
 * The engine's console service: the ticket authority (one per engine, its secret in the data
 * directory) and where a running VM's consoles are — the VNC address and port its node reports
 * now (getVmStats), never a remembered guess.
 */
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { mustById } from "../db/repo/entities.js";
import type { Host, Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { findUser } from "../users/store.js";
import { ConsoleTickets, loadSecret } from "./tickets.js";

/** oVirt names a graphics console by the hex of its protocol: "vnc" → 766e63. */
export const VNC_CONSOLE_ID = Buffer.from("vnc").toString("hex");

const authorities = new WeakMap<Engine, ConsoleTickets>();

export function ticketsOf(e: Engine): ConsoleTickets {
  let t = authorities.get(e);
  if (!t) {
    t = new ConsoleTickets(loadSecret(e.cfg.home));
    authorities.set(e, t);
  }
  return t;
}

/** The users a ticket may name: admin@internal, or an internal user who still exists. */
export async function knownUser(e: Engine, user: string): Promise<boolean> {
  if (user === e.cfg.adminUser) return true;
  return (await findUser(e.db, user)) !== undefined;
}

export interface Display {
  vm: Vm;
  host: Host;
  address: string;
  port: number;
}

const Stats = z.array(z.object({ displayIp: z.string().optional(), displayPort: z.union([z.string(), z.number()]).optional() }).passthrough());

/** A running VM and its host; 409 when the VM does not run. */
export async function runningOn(e: Engine, vmId: string, what: string): Promise<{ vm: Vm; host: Host }> {
  const vm = await mustById(e, "vms", vmId);
  if (vm.status === "down" || !vm.run_on_host_id) throw conflict(`Cannot ${what} of VM ${vm.name}. VM is not running.`);
  const host = await mustById(e, "hosts", vm.run_on_host_id);
  return { vm, host };
}

/** Where the VM's VNC server listens, as its node says now. */
export async function displayOf(e: Engine, vmId: string): Promise<Display> {
  const { vm, host } = await runningOn(e, vmId, "reach the console");
  const raw = await e.nodes.for(host).call("getVmStats", { vmId: vm.id });
  const parsed = Stats.safeParse(raw);
  const s = parsed.success ? parsed.data[0] : undefined;
  const port = Number(s?.displayPort ?? -1);
  if (!s || !Number.isInteger(port) || port <= 0 || port > 65535) throw conflict(`Cannot reach the console of VM ${vm.name}: its display is not up yet`);
  // A server listening on every address is reached through the host's own address.
  const ip = s.displayIp && s.displayIp !== "0.0.0.0" && s.displayIp !== "::" ? s.displayIp : host.address;
  return { vm, host, address: ip, port };
}
