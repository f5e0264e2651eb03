/**
 * Stops a VM: `stop` destroys it on its host at once (power off), `shutdown` asks the guest to
 * power down (powered off by the node if it has not after the configured timeout) and lets the
 * VM monitor see it go. A VM the node no longer knows counts as stopped.
 * The recorded status follows the node's answer, never a guess.
 */
import { conflict } from "../errors/fault.js";
import { Code } from "@vela/protocol/errors";
import { type Host, now, type Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { NodeError } from "../hosts/client.js";
import type { CommandDef } from "./command.js";
import { drivesOf, teardownDrives } from "./drives.js";
import { byId, mustById } from "./lookup.js";

interface Plan {
  vm: Vm;
  host?: Host;
}

async function validateRunning(e: Engine, id: string, what: string): Promise<Plan> {
  const vm = await mustById(e, "vms", id);
  if (vm.status === "down") throw conflict(`Cannot ${what} VM ${vm.name}. VM is not running.`);
  const host = vm.run_on_host_id ? await byId(e, "hosts", vm.run_on_host_id) : undefined;
  return { vm, host };
}

/** Marks the VM down and releases its images: called once the node confirmed the VM is gone. */
export async function settleDown(e: Engine, vm: Vm, host: Host | undefined): Promise<Vm> {
  e.vmTouched.set(vm.id, Date.now());
  const at = now();
  await e.db.updateTable("vms").set({ status: "down", run_on_host_id: null, stop_time: at }).where("id", "=", vm.id).execute();
  if (host) await teardownDrives(e, host, await drivesOf(e, vm.id));
  return { ...vm, status: "down", run_on_host_id: null, stop_time: at };
}

export const StopVm: CommandDef<{ id: string }, Plan, Vm> = {
  name: "stop VM",
  locks: (i) => [`vm:${i.id}`],
  validate: (e, { id }) => validateRunning(e, id, "stop"),
  describe: (p) => `Stopping VM ${p.vm.name}`,
  async execute(e, { vm, host }) {
    if (host) {
      try {
        await e.nodes.for(host).call("destroy", { vmId: vm.id });
      } catch (err) {
        if (!(err instanceof NodeError && err.code === Code.noVM)) throw err;
      }
    }
    const out = await settleDown(e, vm, host);
    e.log.info({ vm: vm.name }, "VM stopped");
    return out;
  },
};

export const ShutdownVm: CommandDef<{ id: string }, Plan, Vm> = {
  name: "shutdown VM",
  locks: (i) => [`vm:${i.id}`],
  validate: (e, { id }) => validateRunning(e, id, "shut down"),
  describe: (p) => `Shutting down VM ${p.vm.name}`,
  async execute(e, { vm, host }) {
    if (!host) throw conflict(`Cannot shut down VM ${vm.name}: it has no host`);
    try {
      // A guest that ignores the power button is powered off by its node after the timeout.
      await e.nodes.for(host).call("shutdown", { vmId: vm.id, delay: 0, force: true, timeout: e.cfg.shutdownTimeoutSec });
    } catch (err) {
      if (err instanceof NodeError && err.code === Code.noVM) return settleDown(e, vm, host);
      throw err;
    }
    return vm;
  },
};
