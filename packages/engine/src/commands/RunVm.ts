/**
 * Starts a VM: pick an up host of its cluster (scheduling/hosts.ts) and hand the node the full VM
 * definition (nodes keep no VM configuration). The node prepares each drive's image itself, under
 * its image lock, and tears down what it prepared if the start fails: the engine does not prepare
 * images first (it used to, so every image was prepared twice). The status recorded is the one
 * the node returns; later ones come from the VM monitor. The VM's vCPUs and memory are consumed
 * from its quota while it runs (quotas/consume.ts).
 */
import { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { Bool, parseInput, Ref } from "../input/input.js";
import { type Host, now, num, type Vm } from "../db/schema.js";
import { vmStatusOf } from "../hosts/vmstatus.js";
import { chooseHost } from "../scheduling/hosts.js";
import { asStored, cloudInitPayload, Initialization, loadInitialization } from "./cloudinit.js";
import type { CommandDef } from "./command.js";
import { driveSpec, drivesOf, type VmDrive } from "./drives.js";
import { mustById } from "../db/repo/entities.js";
import { nicSpecsOf } from "../db/repo/nics.js";
import { consumeCluster, quotaOf } from "../quotas/consume.js";

const MiB = 1024 * 1024;

/**
 * The action body: oVirt's start parameters are accepted and ignored, except a host to run on
 * (Vela extension) and cloud-init: `use_cloud_init` with the VM's stored initialization or one
 * given here for this run (`vm.initialization`, oVirt's run-once). A VM with a stored
 * initialization gets its seed unless use_cloud_init is false.
 */
const Input = z.object({
  host: Ref.optional(),
  use_cloud_init: Bool.optional(),
  vm: z
    .object({
      placement_policy: z.object({ hosts: z.object({ host: z.union([Ref, z.array(Ref)]) }).optional() }).optional(),
      initialization: Initialization.optional(),
    })
    .optional(),
});

interface Plan {
  vm: Vm;
  host: Host;
  drives: VmDrive[];
  /** The cloud-init seed files; they may hold a password: never logged. */
  payload?: ReturnType<typeof cloudInitPayload>;
}

export const RunVm: CommandDef<{ id: string; body: unknown }, Plan, Vm> = {
  name: "run VM",
  locks: (i) => [`vm:${i.id}`],
  async validate(e, { id, body }) {
    const vm = await mustById(e, "vms", id);
    const p = parseInput(Input, body, "action", "start");
    if (vm.status !== "down") throw conflict(`Cannot run VM ${vm.name}. VM is ${vm.status === "up" ? "running" : vm.status}.`);
    const drives = await drivesOf(e, vm.id);
    for (const d of drives) {
      if (d.disk.status !== "ok") throw conflict(`Cannot run VM ${vm.name}: disk ${d.disk.alias} is ${d.disk.status}`);
      if (e.locks.isHeld(`disk:${d.disk.id}`)) throw conflict(`Cannot run VM ${vm.name}: an operation on disk ${d.disk.alias} is in progress`);
      if (!d.dcId || d.domainStatus !== "active") throw conflict(`Cannot run VM ${vm.name}: the storage domain of disk ${d.disk.alias} is not active`);
    }
    const given = p.vm?.initialization ? asStored(p.vm.initialization) : undefined;
    const init = given ?? (p.use_cloud_init === false ? undefined : await loadInitialization(e, vm.id));
    if (p.use_cloud_init === true && !init) throw invalid(`Cannot run VM ${vm.name}: use_cloud_init needs an initialization (on the VM or in the action's vm)`);
    const payload = init && p.use_cloud_init !== false ? cloudInitPayload(vm.id, init) : undefined;
    const cluster = await mustById(e, "clusters", vm.cluster_id);
    if (drives.some((d) => d.dcId !== cluster.data_center_id)) throw conflict(`Cannot run VM ${vm.name}: a disk lies outside the cluster's data center`);
    if (cluster.data_center_id) {
      const dc = await mustById(e, "data_centers", cluster.data_center_id);
      const quota = await quotaOf(e, dc.id, vm.quota_id);
      const vcpus = vm.cpu_sockets * vm.cpu_cores * vm.cpu_threads;
      if (quota) await consumeCluster(e, { dc, quota, clusterId: cluster.id, vcpus, memMiB: num(vm.memory) / MiB, vmId: vm.id, what: `run VM ${vm.name}` });
    }
    const pinned = p.host ?? (() => {
      const h = p.vm?.placement_policy?.hosts?.host;
      return Array.isArray(h) ? h[0] : h;
    })();
    const host = await chooseHost(e, vm, cluster, pinned);
    return { vm, host, drives, payload };
  },
  describe: (p) => `Launching VM ${p.vm.name}`,
  async execute(e, { vm, host, drives, payload }) {
    const client = e.nodes.for(host);
    e.vmTouched.set(vm.id, Date.now());
    const nics = await nicSpecsOf(e, vm.id);
    const result = await client.call("create", {
      vmParams: {
        vmId: vm.id,
        vmName: vm.name,
        memSize: num(vm.memory) / MiB,
        smp: vm.cpu_sockets * vm.cpu_cores * vm.cpu_threads,
        drives: drives.map(driveSpec),
        nics,
        display: "vnc",
        kernel: vm.kernel ?? undefined,
        initrd: vm.initrd ?? undefined,
        kernelArgs: vm.cmdline ?? undefined,
        payload,
        balloon: vm.ballooning === 1,
        cdrom: vm.cdrom_file && vm.cdrom_domain_id ? { domainID: vm.cdrom_domain_id, file: vm.cdrom_file } : undefined,
      },
    });
    const reported = vmStatusOf(result.status);
    const status = reported === "unknown" || reported === "down" ? "wait_for_launch" : reported;
    const at = now();
    e.vmTouched.set(vm.id, Date.now());
    // the running VM's drive holds the configured medium until changed with current=true
    const cd = { cdrom_current_file: vm.cdrom_file, cdrom_current_domain_id: vm.cdrom_domain_id };
    await e.db.updateTable("vms").set({ status, run_on_host_id: host.id, start_time: at, stop_time: null, ...cd }).where("id", "=", vm.id).execute();
    e.log.info({ vm: vm.name, host: host.name, status, cloudInit: payload !== undefined }, "VM started");
    return { ...vm, status, run_on_host_id: host.id, start_time: at, stop_time: null, ...cd };
  },
};
