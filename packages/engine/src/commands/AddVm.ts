/**
 * Adds a VM from a template (Blank by default) in a cluster. Only configuration is stored; the
 * VM is down until started. Direct kernel boot (os.kernel/initrd/cmdline) is kept as given after
 * strict checks; the node further confines kernel and initrd to its allowed directories.
 * The VM and the disks it gets from its template consume from its quota (the one named, else the
 * data center's default): the disks' GiB at once, the vCPUs and memory when it runs.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { Bool, Enum, Int, Name, parseInput, Ref, Text, Uuid } from "../input/input.js";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import { now, num, type Vm } from "../db/schema.js";
import type { Started } from "./background.js";
import { Initialization, saveInitialization } from "./cloudinit.js";
import type { CommandDef } from "./command.js";
import { copyTemplateNics } from "../db/repo/nics.js";
import { byRef, mustById } from "../db/repo/entities.js";
import { consumeStorage, mayConsume, quotaFor } from "../quotas/consume.js";
import { activeSnapshot } from "./snapshotSteps.js";
import { createVmDisks, planVmDisks, type VmDiskPlan } from "./templateDisks.js";

const MiB = 1024 * 1024;

/** An absolute, normalised file path of safe characters (what the node's AbsPath accepts, tighter). */
export const BootPath = z
  .string()
  .max(4096)
  .regex(/^\/[A-Za-z0-9._+/-]*$/, "must be an absolute path of letters, digits and ._+/-")
  .refine((s) => !s.split("/").some((c) => c === "." || c === "..") && !s.includes("//") && !s.endsWith("/"), "must be a normalised file path");

/**
 * Kernel and initrd must lie inside one of the configured boot directories (the path is already
 * normalised by BootPath, so a prefix test is exact). The node checks again, symlinks resolved,
 * at start; refusing here makes a bad path a 400 on add or update rather than a failed start.
 */
export function checkBootPaths(dirs: readonly string[], os: { kernel?: string | null; initrd?: string | null } | undefined): void {
  for (const what of ["kernel", "initrd"] as const) {
    const path = os?.[what];
    if (!path) continue;
    if (!dirs.some((d) => path.startsWith(d.endsWith("/") ? d : `${d}/`))) {
      throw invalid(`Invalid VM os.${what}: ${path} is not inside an allowed boot directory (${dirs.join(":") || "none configured"}; see VELA_BOOT_DIRS)`);
    }
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
export const Cmdline = z.string().max(2048, "longer than 2048 characters").regex(/^[^\u0000-\u001f\u007f]*$/, "contains control characters");

export const OsTypes = ["other", "other_linux", "linux", "rhel_8x64", "rhel_9x64", "debian_12", "ubuntu_22_04", "windows_2019x64", "windows_2022"] as const;

export const Input = z.object({
  name: Name.refine((s) => s.length <= 64, "longer than 64 characters"),
  description: Text(4000).optional(),
  comment: Text(4000).optional(),
  cluster: Ref,
  template: Ref.optional(),
  memory: Int(16 * MiB, 4 * 1024 * 1024 * MiB).optional(),
  cpu: z
    .object({
      topology: z.object({ sockets: Int(1, 16).optional(), cores: Int(1, 64).optional(), threads: Int(1, 8).optional() }).optional(),
    })
    .optional(),
  os: z
    .object({
      type: z.string().max(64).regex(/^[a-z0-9_]+$/, "not an OS type").optional(),
      boot: z.object({ devices: z.object({ device: z.union([Enum(["hd", "cdrom", "network"]), z.array(Enum(["hd", "cdrom", "network"])).max(3)]) }).optional() }).optional(),
      kernel: BootPath.optional(),
      initrd: BootPath.optional(),
      cmdline: Cmdline.optional(),
    })
    .optional(),
  display: z.object({ type: Enum(["vnc", "spice"]).optional() }).optional(),
  stateless: Bool.optional(),
  high_availability: z.object({ enabled: Bool.optional() }).optional(),
  initialization: Initialization.optional(),
  /** oVirt's memory_policy: only `ballooning` is used (a balloon device, on by default as oVirt). */
  memory_policy: z.object({ ballooning: Bool.optional() }).optional(),
  quota: z.object({ id: Uuid }).optional(),
});
type In = z.output<typeof Input>;

interface Plan {
  vm: Vm;
  init?: Initialization;
  disks: VmDiskPlan[];
  clone: boolean;
}

export const AddVm: CommandDef<{ body: unknown; clone?: boolean }, Plan, { vm: Vm; started?: Started }> = {
  name: "add VM",
  locks: () => ["vm:names"],
  async validate(e, { body, clone = false }) {
    const p: In = parseInput(Input, body, "VM");
    const cluster = await byRef(e, "clusters", p.cluster);
    const template = await byRef(e, "templates", p.template ?? { id: BLANK_TEMPLATE_ID });
    const clash = await e.db.selectFrom("vms").select("id").where("name", "=", p.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add VM. The VM name ${p.name} is already in use.`);
    const memory = p.memory ?? num(template.memory);
    if (memory % MiB !== 0) throw invalid("Invalid VM memory: must be a whole number of MiB");
    const t = p.cpu?.topology ?? {};
    const sockets = t.sockets ?? template.cpu_sockets;
    const cores = t.cores ?? template.cpu_cores;
    const threads = t.threads ?? template.cpu_threads;
    if (sockets * cores * threads > 288) throw invalid("Invalid VM cpu topology: more than 288 vCPUs");
    if (p.os?.initrd && !p.os.kernel) throw invalid("Invalid VM os: initrd needs a kernel");
    checkBootPaths(e.cfg.bootDirs, p.os);
    if (p.os?.type && !(OsTypes as readonly string[]).includes(p.os.type)) e.log.debug({ os: p.os.type }, "unlisted OS type kept as given");
    const dev = p.os?.boot?.devices?.device;
    const vm: Vm = {
      id: randomUUID(),
      name: p.name,
      description: p.description ?? "",
      comment: p.comment ?? "",
      cluster_id: cluster.id,
      template_id: template.id,
      memory,
      cpu_sockets: sockets,
      cpu_cores: cores,
      cpu_threads: threads,
      os_type: p.os?.type ?? template.os_type,
      boot_devices: JSON.stringify(dev === undefined ? ["hd"] : Array.isArray(dev) ? dev : [dev]),
      kernel: p.os?.kernel ?? null,
      initrd: p.os?.initrd ?? null,
      cmdline: p.os?.cmdline ?? null,
      display_type: p.display?.type ?? "vnc",
      stateless: p.stateless ? 1 : 0,
      high_availability: p.high_availability?.enabled ? 1 : 0,
      status: "down",
      run_on_host_id: null,
      start_time: null,
      stop_time: null,
      created_at: now(),
      cdrom_file: null,
      cdrom_domain_id: null,
      cdrom_current_file: null,
      cdrom_current_domain_id: null,
      ballooning: p.memory_policy?.ballooning === false ? 0 : 1,
      quota_id: null,
    };
    if (!cluster.data_center_id) throw conflict(`Cannot add VM: cluster ${cluster.name} belongs to no data center`);
    const dc = await mustById(e, "data_centers", cluster.data_center_id);
    const quota = await quotaFor(e, dc.id, p.quota, "add VM");
    vm.quota_id = quota.id;
    await mayConsume(e, dc, quota, "add VM");
    const disks = template.id === BLANK_TEMPLATE_ID ? [] : await planVmDisks(e, template, clone);
    if (disks.length) {
      const bytes = new Map<string, number>();
      for (const d of disks) {
        d.disk.quota_id = quota.id;
        bytes.set(d.disk.storage_domain_id, (bytes.get(d.disk.storage_domain_id) ?? 0) + num(d.disk.provisioned_size));
      }
      await consumeStorage(e, { dc, quota, bytes, what: "add VM", until: { disks: disks.map((d) => d.disk.id) } });
    }
    if (disks.length) vm.status = "image_locked";
    return { vm, disks, clone, init: p.initialization };
  },
  describe: (p) => `Creating VM ${p.vm.name}${p.disks.length ? (p.clone ? " (cloning the template's disks)" : " (thin, on the template's disks)") : ""}`,
  async execute(e, { vm, disks, clone, init }, x) {
    await e.db.insertInto("vms").values(vm).execute();
    await activeSnapshot(e, vm.id);
    await saveInitialization(e, vm.id, init);
    x.revert.push("forget the VM", async () => {
      await e.db.deleteFrom("vm_nics").where("owner_id", "=", vm.id).execute();
      await saveInitialization(e, vm.id, undefined);
      await e.db.deleteFrom("snapshots").where("vm_id", "=", vm.id).execute();
      await e.db.deleteFrom("vms").where("id", "=", vm.id).execute();
    });
    await copyTemplateNics(e, vm.template_id, vm.id, vm.cluster_id);
    if (!disks.length) return { vm };
    const started = await createVmDisks(e, x, vm, disks, clone);
    return { vm, started };
  },
};
