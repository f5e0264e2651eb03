/**
 * `reboot`: Ctrl+Alt+Del, then a hard reset when the guest ignores it (without a guest agent there
 * is no ACPI reboot request).
 */
import type { Vm } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { type Plan, running } from "./runningVm.js";

/** Reboot with a hard reset after `timeoutSec` if the guest has not reset itself. */
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
