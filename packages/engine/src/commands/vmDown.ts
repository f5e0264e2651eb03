/**
 * What stopping a VM shares: the VM must be running to stop or shut down, and once the node has
 * confirmed it gone (a VM the node no longer knows counts as gone) it is marked down and its images
 * are released. The recorded status follows the node's answer, never a guess.
 */
import { conflict } from "../errors/fault.js";
import { byId, mustById } from "../db/repo/entities.js";
import { type Host, now, type Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { drivesOf, teardownDrives } from "./drives.js";

export interface Plan {
  vm: Vm;
  host?: Host;
}

export async function validateRunning(e: Engine, id: string, what: string): Promise<Plan> {
  const vm = await mustById(e, "vms", id);
  if (vm.status === "down") throw conflict(`Cannot ${what} VM ${vm.name}. VM is not running.`);
  const host = vm.run_on_host_id ? await byId(e, "hosts", vm.run_on_host_id) : undefined;
  return { vm, host };
}

/**
 * Marks the VM down: called once the node confirmed the VM is gone. A node's `destroy` releases
 * what its `create` prepared (images, taps); only when the node no longer knew the VM
 * (`released: false`, e.g. an agent that lost it) does the engine ask it to tear the images down.
 */
export async function settleDown(e: Engine, vm: Vm, host: Host | undefined, released: boolean): Promise<Vm> {
  e.vmTouched.set(vm.id, Date.now());
  const at = now();
  await e.db.updateTable("vms").set({ status: "down", run_on_host_id: null, stop_time: at }).where("id", "=", vm.id).execute();
  if (host && !released) await teardownDrives(e, host, await drivesOf(e, vm.id));
  return { ...vm, status: "down", run_on_host_id: null, stop_time: at };
}
