/**
 * What the commands on a running VM's controls share: the VM must run (in one of the allowed
 * states) on a host, each is one node verb there, and the status recorded is what the node's
 * answer implies; the VM monitor keeps it true afterwards.
 */
import { conflict } from "../errors/fault.js";
import { mustById } from "../db/repo/entities.js";
import type { Host, Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { CommandDef } from "./command.js";

export interface Plan {
  vm: Vm;
  host: Host;
}

export async function running(e: Engine, id: string, what: string, allowed: string[] = ["up", "powering_up", "reboot_in_progress", "paused"]): Promise<Plan> {
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

/** A command that is one node verb on the running VM, then an optional status. */
export function oneVerb(name: string, what: string, verb: "reset" | "injectNmi" | "pause" | "cont", status?: string, allowed?: string[]): CommandDef<{ id: string }, Plan, Vm> {
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
