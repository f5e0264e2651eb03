/**
 * `ticket`: a console ticket, a one-time VNC password with an expiry, set on the VM's VNC server
 * (node `setTicket` → QMP set_password + expire_password).
 */
import { randomInt } from "node:crypto";
import { z } from "zod";
import { Int, parseInput } from "../input/input.js";
import type { Vm } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { type Plan, running } from "./runningVm.js";

/** oVirt's default console ticket life, in seconds. */
export const DEFAULT_TICKET_TTL_SEC = 120;
const TICKET_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/** VNC authentication keys on the first 8 bytes of a password: a ticket is exactly that long. */
const TICKET_LENGTH = 8;

export function newTicketValue(): string {
  let s = "";
  for (let i = 0; i < TICKET_LENGTH; i++) s += TICKET_CHARS[randomInt(TICKET_CHARS.length)];
  return s;
}

const TicketInput = z.object({
  ticket: z
    .object({
      value: z.string().regex(/^[\x21-\x7e]{1,8}$/, "must be 1 to 8 printable characters without spaces (VNC uses 8)").optional(),
      expiry: Int(1, 86_400).optional(),
    })
    .optional(),
});

export interface Ticket {
  value: string;
  expiry: number;
}

/** Sets a new console password on the VM's VNC server, valid for `expiry` seconds. */
export const SetVmTicket: CommandDef<{ id: string; body: unknown }, Plan & { ticket: Ticket }, Ticket & { vm: Vm }> = {
  name: "set VM ticket",
  quiet: true,
  locks: () => [],
  async validate(e, { id, body }) {
    const p = parseInput(TicketInput, body, "action", "ticket");
    const plan = await running(e, id, "set a console ticket for");
    return { ...plan, ticket: { value: p.ticket?.value ?? newTicketValue(), expiry: p.ticket?.expiry ?? DEFAULT_TICKET_TTL_SEC } };
  },
  describe: (p) => `Setting a console ticket for VM ${p.vm.name}`,
  async execute(e, { vm, host, ticket }) {
    await e.nodes.for(host).call("setTicket", { vmId: vm.id, password: ticket.value, ttl: ticket.expiry });
    e.log.info({ vm: vm.name, ttlSec: ticket.expiry }, "console ticket set");
    return { ...ticket, vm };
  },
};
