/**
 * `shutdown`: asks the guest to power down (ACPI); the node powers it off if it has not after the
 * configured timeout, and the VM monitor sees it go.
 */
import { Code } from "@vela/protocol/errors";
import { conflict } from "../errors/fault.js";
import type { Vm } from "../db/schema.js";
import { NodeError } from "../hosts/client.js";
import type { CommandDef } from "./command.js";
import { type Plan, settleDown, validateRunning } from "./vmDown.js";

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
      if (err instanceof NodeError && err.code === Code.noVM) return settleDown(e, vm, host, false);
      throw err;
    }
    return vm;
  },
};
