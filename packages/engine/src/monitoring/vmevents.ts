/** Events for VM state changes the VM monitor sees (up, paused, other states, down with why). */
import type { VmStats } from "@vela/protocol";
import type { Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { Code } from "../events/codes.js";
import { logEvent } from "../events/index.js";

export async function vmStatusEvent(e: Engine, vm: Vm, hostId: string, hostName: string, status: string, s?: VmStats): Promise<void> {
  const refs = { vmId: vm.id, hostId, clusterId: vm.cluster_id };
  if (status === "paused" && s?.pauseCode === "ENOSPC") {
    const why = s.thinError ? ` ${s.thinError.slice(0, 400)}` : "";
    await logEvent(e, { ...refs, code: Code.VM_PAUSED_ENOSPC, severity: "error", description: `VM ${vm.name} has been paused due to no Storage space error.${why}` });
  } else if (status === "up") await logEvent(e, { ...refs, code: Code.VM_UP, severity: "normal", description: `VM ${vm.name} is up on host ${hostName}.` });
  else if (status === "paused") await logEvent(e, { ...refs, code: Code.VM_PAUSED, severity: "warning", description: `VM ${vm.name} has been paused.` });
  else await logEvent(e, { ...refs, code: Code.VM_STATUS_CHANGED, severity: "normal", description: `VM ${vm.name} is ${status.replace(/_/g, " ")} (was ${vm.status.replace(/_/g, " ")}).` });
}

export async function vmDownEvent(e: Engine, vm: Vm, hostId: string, hostName: string, s: VmStats | undefined): Promise<void> {
  const error = s?.exitCode !== undefined && s.exitCode !== 0;
  const why = s?.exitMessage ? ` Exit message: ${s.exitMessage}` : "";
  await logEvent(e, {
    vmId: vm.id,
    hostId,
    clusterId: vm.cluster_id,
    code: error ? Code.VM_DOWN_ERROR : Code.VM_DOWN,
    severity: error ? "error" : "normal",
    description: `VM ${vm.name} is down on host ${hostName}.${why}`,
  });
}
