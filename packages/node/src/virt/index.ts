/**
 * The virt subsystem: VMs as QEMU processes driven over QMP. Exposes the VM verbs of the verb
 * table (create, destroy, shutdown, list, getVmStats, getAllVmStats, snapshot, merge, and the console verbs of console.ts) and, on start, recovers the
 * VMs left running by an earlier agent. Closing it leaves VMs running: the node is stateless.
 */
import type { NodeContext } from "../api/context.js";
import type { ImageService, Subsystem } from "../api/services.js";
import { VdsmError } from "@vela/protocol";
import { changeCd } from "./cdrom.js";
import { diskSizeExtend } from "./disksize.js";
import { setBalloonKiB } from "./mom/balloon.js";
import { Mom } from "./mom/runner.js";
import { consoleHandlers, SerialRelay } from "./console.js";
import { VmManager } from "./manager.js";
import { hotplugNic, hotunplugNic, setLink } from "./nics.js";

export async function createVirt(ctx: NodeContext, images: ImageService): Promise<Subsystem> {
  const log = ctx.log.child({ subsystem: "virt" });
  const vms = new VmManager({ ...ctx, log }, images);
  await vms.recover();
  const relay = new SerialRelay(vms, log);
  const mom = new Mom(() => vms.all(), log.child({ part: "mom" }), { intervalMs: ctx.config.momIntervalMs, ksmDir: ctx.config.ksmDir });
  mom.start();
  return {
    upgrade: (req, socket) => relay.upgrade(req, socket),
    handlers: {
      create: ({ vmParams, vmID }) => vms.create(vmParams, vmID),
      destroy: ({ vmId }) => vms.destroy(vmId),
      shutdown: ({ vmId, reboot, timeout, force }) => vms.shutdown(vmId, { reboot, timeoutSec: timeout, force }),
      list: ({ full, vmList }) => vms.list(full, vmList),
      getVmStats: ({ vmId }) => vms.stats(vmId),
      getAllVmStats: () => vms.allStats(),
      snapshot: ({ vmId, snapDrives, snapMemory }) => vms.snapshot(vmId, snapDrives, snapMemory),
      merge: ({ vmId, drive, baseVolUUID, topVolUUID, bandwidth, jobUUID }) => vms.merge(vmId, { drive, base: baseVolUUID, top: topVolUUID, bandwidth, jobId: jobUUID }),
      hotplugNic: ({ params }) => vms.withVm(params.vmId, async (vm) => {
        await hotplugNic(ctx, vm, params.nic);
        return { vmList: vm.summary((await vm.status()).status, true) };
      }),
      hotunplugNic: ({ params }) => vms.withVm(params.vmId, async (vm) => {
        await hotunplugNic(ctx, vm, params.nic.macAddr);
        return { vmList: vm.summary((await vm.status()).status, true) };
      }),
      vmUpdateDevice: ({ vmId, params }) => vms.withVm(vmId, async (vm) => {
        await setLink(vm, params.macAddr, params.linkActive);
        return { vmList: vm.summary((await vm.status()).status, true) };
      }),
      diskSizeExtend: ({ vmId, driveSpecs, newSize }) => vms.controlled(vmId, "extend a disk", (vm, qmp) => diskSizeExtend(images, vm, qmp, driveSpecs, newSize, log)),
      changeCD: ({ vmId, cdrom }) => vms.controlled(vmId, "change the CD-ROM", async (vm, qmp) => {
        await changeCd(images, vm, qmp, cdrom, log);
        return {};
      }),
      setBalloonTarget: ({ vmId, target }) => vms.controlled(vmId, "change the balloon", async (vm, qmp) => {
        if (!vm.rec.params.balloon) throw new VdsmError("noimpl", `VM ${vmId} has no balloon device`);
        if (target > vm.rec.params.memSize * 1024) throw new VdsmError("InvalidParameter", `target ${target} KiB exceeds the VM's memory (${vm.rec.params.memSize} MiB)`);
        vm.balloonTargetKiB = target;
        await setBalloonKiB(qmp, target);
        return {};
      }),
      setMOMPolicyParameters: async ({ policy }) => {
        await mom.setPolicy(policy);
        return { ksmState: mom.ksm ?? { present: false, running: false } };
      },
      ...consoleHandlers(vms, log, relay),
    },
    close: async () => {
      mom.stop();
      await vms.close();
    },
  };
}
