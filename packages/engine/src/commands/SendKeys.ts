/** `sendkeys` (Vela): presses keys together on the VM's keyboard, by QEMU key name (ctrl, alt, delete, a, f1, ret …). */
import { z } from "zod";
import { invalid } from "../errors/fault.js";
import { parseInput, Text } from "../input/input.js";
import type { Vm } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { type Plan, running } from "./runningVm.js";

const Keys = z.object({
  keys: z.object({ key: z.union([Text(20), z.array(Text(20))]) }),
});

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
