/**
 * The virt subsystem: VMs as QEMU processes driven over QMP. Exposes the VM verbs of the verb
 * table (create, destroy, shutdown, list, getVmStats, getAllVmStats, and the console verbs of console.ts) and, on start, recovers the
 * VMs left running by an earlier agent. Closing it leaves VMs running: the node is stateless.
 */
import type { NodeContext } from "../api/context.js";
import type { ImageService, Subsystem } from "../api/services.js";
import { consoleHandlers, SerialRelay } from "./console.js";
import { VmManager } from "./manager.js";

export async function createVirt(ctx: NodeContext, images: ImageService): Promise<Subsystem> {
  const log = ctx.log.child({ subsystem: "virt" });
  const vms = new VmManager({ ...ctx, log }, images);
  await vms.recover();
  const relay = new SerialRelay(vms, log);
  return {
    upgrade: (req, socket) => relay.upgrade(req, socket),
    handlers: {
      create: ({ vmParams, vmID }) => vms.create(vmParams, vmID),
      destroy: ({ vmId }) => vms.destroy(vmId),
      shutdown: ({ vmId, reboot, timeout, force }) => vms.shutdown(vmId, { reboot, timeoutSec: timeout, force }),
      list: ({ full, vmList }) => vms.list(full, vmList),
      getVmStats: ({ vmId }) => vms.stats(vmId),
      getAllVmStats: () => vms.allStats(),
      ...consoleHandlers(vms, log, relay),
    },
    close: () => vms.close(),
  };
}
