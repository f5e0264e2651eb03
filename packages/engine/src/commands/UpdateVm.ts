/**
 * Updates a VM's configuration (PUT /vms/{id}). Names, descriptions and comments change at any
 * time; hardware and boot settings only while the VM is down (no next-run configuration yet).
 * An empty kernel, initrd or cmdline clears it. `quota` moves the VM to another quota of its
 * data center (a running VM's vCPUs and memory are then consumed there; quotas/consume.ts).
 */
import { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { Bool, Enum, Int, Name, parseInput, Text, Uuid } from "../input/input.js";
import { num, type Vm } from "../db/schema.js";
import { BootPath, Cmdline, checkBootPaths } from "./AddVm.js";
import { Initialization, loadInitialization, saveInitialization } from "./cloudinit.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import type { Engine } from "../engine.js";
import { consumeCluster, mayConsume, quotaFor } from "../quotas/consume.js";

const MiB = 1024 * 1024;

/** XML's empty element arrives as {}; both it and "" mean "clear". */
const Clearable = <T extends z.ZodType>(s: T) =>
  z.preprocess((v) => (v === "" || (typeof v === "object" && v !== null && Object.keys(v).length === 0) ? null : v), z.union([z.null(), s]));

const Input = z.object({
  name: Name.refine((s) => s.length <= 64, "longer than 64 characters").optional(),
  description: Text(4000).optional(),
  comment: Text(4000).optional(),
  memory: Int(16 * MiB, 4 * 1024 * 1024 * MiB).optional(),
  cpu: z.object({ topology: z.object({ sockets: Int(1, 16).optional(), cores: Int(1, 64).optional(), threads: Int(1, 8).optional() }).optional() }).optional(),
  os: z
    .object({
      type: z.string().max(64).regex(/^[a-z0-9_]+$/, "not an OS type").optional(),
      kernel: Clearable(BootPath).optional(),
      initrd: Clearable(BootPath).optional(),
      cmdline: Clearable(Cmdline).optional(),
    })
    .optional(),
  display: z.object({ type: Enum(["vnc", "spice"]).optional() }).optional(),
  stateless: Bool.optional(),
  high_availability: z.object({ enabled: Bool.optional() }).optional(),
  /** cloud-init; an empty one clears it. Used at the next start. */
  initialization: Clearable(Initialization).optional(),
  quota: z.object({ id: Uuid }).optional(),
});

/**
 * The API never shows root_password, so a client that PUTs the initialization it read back would
 * erase it: an update without one keeps the stored password (clear the whole initialization to
 * drop it).
 */
async function keepPassword(e: Parameters<typeof loadInitialization>[0], vmId: string, init: Initialization): Promise<Initialization> {
  if (init.root_password !== undefined) return init;
  const stored = await loadInitialization(e, vmId);
  return stored?.root_password ? { ...init, root_password: stored.root_password } : init;
}

export const UpdateVm: CommandDef<{ id: string; body: unknown }, { vm: Vm; next: Vm; init?: Initialization | null }, Vm> = {
  name: "update VM",
  locks: (i) => [`vm:${i.id}`, "vm:names"],
  async validate(e, { id, body }) {
    const vm = await mustById(e, "vms", id);
    const p = parseInput(Input, body, "VM", "update");
    const t = p.cpu?.topology ?? {};
    const next: Vm = {
      ...vm,
      name: p.name ?? vm.name,
      description: p.description ?? vm.description,
      comment: p.comment ?? vm.comment,
      memory: p.memory ?? num(vm.memory),
      cpu_sockets: t.sockets ?? vm.cpu_sockets,
      cpu_cores: t.cores ?? vm.cpu_cores,
      cpu_threads: t.threads ?? vm.cpu_threads,
      os_type: p.os?.type ?? vm.os_type,
      kernel: p.os?.kernel === undefined ? vm.kernel : p.os.kernel,
      initrd: p.os?.initrd === undefined ? vm.initrd : p.os.initrd,
      cmdline: p.os?.cmdline === undefined ? vm.cmdline : p.os.cmdline,
      display_type: p.display?.type ?? vm.display_type,
      stateless: p.stateless === undefined ? vm.stateless : p.stateless ? 1 : 0,
      high_availability: p.high_availability?.enabled === undefined ? vm.high_availability : p.high_availability.enabled ? 1 : 0,
    };
    if (num(next.memory) % MiB !== 0) throw invalid("Invalid VM memory: must be a whole number of MiB");
    if (next.cpu_sockets * next.cpu_cores * next.cpu_threads > 288) throw invalid("Invalid VM cpu topology: more than 288 vCPUs");
    if (next.initrd && !next.kernel) throw invalid("Invalid VM os: initrd needs a kernel");
    // Only what this update sets: a path stored before the rule existed still starts (the node checks it).
    checkBootPaths(e.cfg.bootDirs, { kernel: p.os?.kernel, initrd: p.os?.initrd });
    const hardware: (keyof Vm)[] = ["memory", "cpu_sockets", "cpu_cores", "cpu_threads", "os_type", "kernel", "initrd", "cmdline", "display_type", "stateless"];
    const changed = hardware.filter((k) => String(next[k]) !== String(vm[k]));
    if (changed.length > 0 && vm.status !== "down") throw conflict(`Cannot update VM ${vm.name} while it is ${vm.status}: ${changed.join(", ")} can change only when it is down`);
    if (next.name !== vm.name) {
      const clash = await e.db.selectFrom("vms").select("id").where("name", "=", next.name).executeTakeFirst();
      if (clash) throw conflict(`Cannot update VM. The VM name ${next.name} is already in use.`);
    }
    if (p.quota && p.quota.id !== vm.quota_id) next.quota_id = await movedQuota(e, vm, p.quota.id);
    return { vm, next, init: p.initialization };
  },
  describe: (p) => `Updating VM ${p.vm.name}`,
  async execute(e, { next, init }) {
    const { id, ...rest } = next;
    await e.db.updateTable("vms").set(rest).where("id", "=", id).execute();
    if (init !== undefined) await saveInitialization(e, id, init === null ? undefined : await keepPassword(e, id, init));
    return next;
  },
};

/** A VM moving to another quota: of its data center, consumable by the user, with room if it runs. */
async function movedQuota(e: Engine, vm: Vm, quotaId: string): Promise<string> {
  const cluster = await mustById(e, "clusters", vm.cluster_id);
  if (!cluster.data_center_id) throw conflict(`Cannot update VM ${vm.name}: its cluster belongs to no data center`);
  const dc = await mustById(e, "data_centers", cluster.data_center_id);
  const what = `update VM ${vm.name}`;
  const quota = await quotaFor(e, dc.id, { id: quotaId }, what);
  await mayConsume(e, dc, quota, what);
  if (vm.status !== "down" && vm.status !== "image_locked") {
    const vcpus = vm.cpu_sockets * vm.cpu_cores * vm.cpu_threads;
    await consumeCluster(e, { dc, quota, clusterId: cluster.id, vcpus, memMiB: num(vm.memory) / MiB, vmId: vm.id, what });
  }
  return quota.id;
}
