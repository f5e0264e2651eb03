/** `stop`: destroys the VM on its host at once (power off). */
import { Code } from "@vela/protocol/errors";
import type { Vm } from "../db/schema.js";
import { NodeError } from "../hosts/client.js";
import type { CommandDef } from "./command.js";
import { type Plan, settleDown, validateRunning } from "./vmDown.js";

export const StopVm: CommandDef<{ id: string }, Plan, Vm> = {
  name: "stop VM",
  locks: (i) => [`vm:${i.id}`],
  validate: (e, { id }) => validateRunning(e, id, "stop"),
  describe: (p) => `Stopping VM ${p.vm.name}`,
  async execute(e, { vm, host }) {
    let released = false;
    if (host) {
      try {
        await e.nodes.for(host).call("destroy", { vmId: vm.id });
        released = true;
      } catch (err) {
        if (!(err instanceof NodeError && err.code === Code.noVM)) throw err;
      }
    }
    const out = await settleDown(e, vm, host, released);
    e.log.info({ vm: vm.name }, "VM stopped");
    return out;
  },
};
