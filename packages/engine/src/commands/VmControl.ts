/**
 * Commands on a running VM's console and controls, each one node verb on the VM's host: a console
 * ticket (one-time VNC password with an expiry: `setTicket` → QMP set_password +
 * expire_password), reset, reboot (Ctrl+Alt+Del, then a hard reset when the guest ignores it:
 * without a guest agent there is no ACPI reboot request), suspend (QEMU pause: memory stays in
 * the host, so the VM is `paused`, not hibernated), resume, keys and NMI. The status recorded is
 * what the node's answer implies; the VM monitor keeps it true afterwards.
 */
import { randomInt } from "node:crypto";
import { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { Int, parseInput, Text } from "../input/input.js";
import type { Host, Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { CommandDef } from "./command.js";
import { mustById } from "./lookup.js";

/** oVirt's default console ticket life, in seconds. */
export const DEFAULT_TICKET_TTL_SEC = 120;
const TICKET_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/** VNC authentication keys on the first 8 bytes of a password: a ticket is exactly that long. */
const TICKET_LENGTH = 8;

interface Plan {
  vm: Vm;
  host: Host;
}

async function running(e: Engine, id: string, what: string, allowed: string[] = ["up", "powering_up", "reboot_in_progress", "paused"]): Promise<Plan> {
  const vm = await mustById(e, "vms", id);
  if (!allowed.includes(vm.status) || !vm.run_on_host_id) {
    throw conflict(`Cannot ${what} VM ${vm.name}. VM is ${vm.status === "down" ? "not running" : vm.status}.`);
  }
  return { vm, host: await mustById(e, "hosts", vm.run_on_host_id) };
}

async function setStatus(e: Engine, vm: Vm, status: string): Promise<Vm> {
  e.vmTouched.set(vm.id, Date.now());
  await e.db.updateTable("vms").set({ status }).where("id", "=", vm.id).execute();
  return { ...vm, status };
}

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

/** `ticket`: sets a new console password on the VM's VNC server, valid for `expiry` seconds. */
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

/** A command that is one node verb on the running VM, then an optional status. */
function simple(name: string, what: string, verb: "reset" | "injectNmi" | "pause" | "cont", status?: string, allowed?: string[]): CommandDef<{ id: string }, Plan, Vm> {
  return {
    name,
    locks: (i) => [`vm:${i.id}`],
    validate: (e, { id }) => running(e, id, what, allowed),
    describe: (p) => `${name[0]?.toUpperCase()}${name.slice(1)} ${p.vm.name}`,
    async execute(e, { vm, host }) {
      await e.nodes.for(host).call(verb, { vmId: vm.id });
      e.log.info({ vm: vm.name, action: verb }, "VM control");
      return status ? setStatus(e, vm, status) : vm;
    },
  };
}

export const ResetVm = simple("reset VM", "reset", "reset");
export const InjectNmi = simple("inject NMI into VM", "inject an NMI into", "injectNmi");
export const SuspendVm = simple("suspend VM", "suspend", "pause", "paused", ["up", "powering_up", "reboot_in_progress"]);
export const ResumeVm = simple("resume VM", "resume", "cont", "up", ["paused", "suspended"]);

/** `reboot`: Ctrl+Alt+Del, and a hard reset after `timeoutSec` if the guest has not reset itself. */
export function rebootVm(timeoutSec: number): CommandDef<{ id: string }, Plan, Vm> {
  return {
    name: "reboot VM",
    locks: (i) => [`vm:${i.id}`],
    validate: (e, { id }) => running(e, id, "reboot", ["up", "powering_up"]),
    describe: (p) => `Rebooting VM ${p.vm.name}`,
    async execute(e, { vm, host }) {
      await e.nodes.for(host).call("shutdown", { vmId: vm.id, reboot: true, force: true, timeout: timeoutSec });
      return vm;
    },
  };
}

const Keys = z.object({
  keys: z.object({ key: z.union([Text(20), z.array(Text(20))]) }),
});

/** `sendkeys` (Vela): presses keys together, by QEMU key name (ctrl, alt, delete, a, f1, ret …). */
export const SendKeys: CommandDef<{ id: string; body: unknown }, Plan & { keys: string[] }, Vm> = {
  name: "send keys to VM",
  locks: (i) => [`vm:${i.id}`],
  async validate(e, { id, body }) {
    const p = parseInput(Keys, body, "action", "sendkeys");
    const keys = Array.isArray(p.keys.key) ? p.keys.key : [p.keys.key];
    if (keys.length > 16) throw invalid("Invalid action keys: at most 16 keys at once");
    const bad = keys.find((k) => !/^[a-z0-9_]{1,20}$/.test(k));
    if (bad !== undefined) throw invalid(`Invalid action keys: '${bad}' is not a key name (QEMU names: ctrl, alt, delete, a, f1, ret …)`);
    return { ...(await running(e, id, "send keys to", ["up", "powering_up", "reboot_in_progress"])), keys };
  },
  describe: (p) => `Sending keys to VM ${p.vm.name}`,
  async execute(e, { vm, host, keys }) {
    await e.nodes.for(host).call("sendKeys", { vmId: vm.id, keys });
    return vm;
  },
};
