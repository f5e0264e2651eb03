/**
 * VM monitoring: polls getAllVmStats on every up host and records what the node reports. A VM
 * reported Down (it powered off) is destroyed on the node and its images torn down; a VM its host
 * no longer lists is down. Reports taken before a command changed the VM are ignored, and VMs
 * locked by a command are skipped, so polling never undoes a start or stop.
 */
import { StopVmSettle } from "./settle.js";
import type { Engine } from "../engine.js";
import type { VmStats } from "@vela/protocol";
import { forgetVmStats, recordVmStats } from "./stats.js";
import { vmDownEvent, vmStatusEvent } from "./vmevents.js";
import { vmStatusOf } from "../hosts/vmstatus.js";

export class VmMonitor {
  private busy = false;
  private settle: StopVmSettle;

  constructor(private e: Engine) {
    this.settle = new StopVmSettle(e);
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const hosts = await this.e.db.selectFrom("hosts").selectAll().where("status", "=", "up").execute();
      await Promise.all(hosts.map((h) => this.pollHost(h.id, h.address, h.port, h.name)));
    } finally {
      this.busy = false;
    }
  }

  private async pollHost(hostId: string, address: string, port: number, name: string): Promise<void> {
    const e = this.e;
    const started = Date.now();
    let stats: VmStats[];
    try {
      const r = await e.nodes.for({ address, port }).call("getAllVmStats", {}, { timeoutMs: 10_000 });
      stats = r;
    } catch (err) {
      e.log.debug({ err, host: name }, "VM stats poll failed");
      return;
    }
    const reported = new Map(stats.filter((s) => typeof s?.vmId === "string").map((s) => [s.vmId.toLowerCase(), s]));
    const ours = await e.db.selectFrom("vms").selectAll().where("run_on_host_id", "=", hostId).execute();
    for (const vm of ours) {
      reported.delete(vm.id);
      if (e.locks.isHeld(`vm:${vm.id}`) || (e.vmTouched.get(vm.id) ?? 0) >= started) continue;
      const s = stats.find((x) => x.vmId?.toLowerCase() === vm.id);
      const status = s ? vmStatusOf(s.status) : "down";
      if (s && status !== "down") recordVmStats(e, vm.id, s);
      else forgetVmStats(e, vm.id);
      if (status === "down") {
        if (await this.settle.down(vm, hostId, s !== undefined, started)) await vmDownEvent(e, vm, hostId, name, s);
        continue;
      }
      if (status !== vm.status) {
        await e.db.updateTable("vms").set({ status }).where("id", "=", vm.id).where("run_on_host_id", "=", hostId).execute();
        e.log.info({ vm: vm.name, host: name, status, was: vm.status }, "VM status changed");
        await vmStatusEvent(e, vm, hostId, name, status);
      }
    }
    // VMs the engine thought were down or elsewhere but this node runs (e.g. the engine died mid-start).
    for (const [vmId, s] of reported) {
      const status = vmStatusOf(s.status);
      if (status === "down") continue;
      const vm = await e.db.selectFrom("vms").selectAll().where("id", "=", vmId).executeTakeFirst();
      if (!vm) {
        e.log.warn({ vmId, host: name }, "node runs a VM the engine does not know");
        continue;
      }
      if (e.locks.isHeld(`vm:${vm.id}`) || (e.vmTouched.get(vm.id) ?? 0) >= started) continue;
      if (vm.run_on_host_id === null || vm.status === "down" || vm.status === "unknown") {
        await e.db.updateTable("vms").set({ status, run_on_host_id: hostId }).where("id", "=", vm.id).execute();
        e.log.info({ vm: vm.name, host: name, status }, "VM found running on host");
      }
    }
  }
}
