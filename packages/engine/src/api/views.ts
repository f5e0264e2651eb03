/**
 * Entity rows → oVirt v4 representation trees. Member order follows the engine's (actions, name,
 * description, comment, links, attributes, references). Pure: callers load whatever rows a view needs.
 * A view advertises only links and actions that have a route (test/links.test.ts walks them all);
 * a feature adds its link or action here with its route.
 */
import {
  type Cluster,
  type DataCenter,
  type Disk,
  type DiskAttachment,
  type Host,
  type ImageTransfer,
  type Job,
  num,
  type Quota,
  type QuotaLimit,
  type Snapshot,
  type Step,
  type StorageDomain,
  type StorageDomainAttachment,
  type Template,
  type Vm,
} from "../db/schema.js";
import { actions, href, links, ref } from "./href.js";
import { defaultProfileId } from "../db/ids.js";
import type { Rep } from "./repr.js";
import type { PolicyUnit } from "../scheduling/units.js";

const b = (v: number) => v !== 0;
const date = (s: string | null) => (s ? new Date(s) : undefined);

export const SUPPORTED_VERSIONS = [
  { major: 4, minor: 7 },
  { major: 4, minor: 8 },
];

/** Data center status is derived from the pool, never stored: no pool → uninitialized. */
export function dcStatus(dc: DataCenter, spm?: Host): string {
  if (!dc.master_domain_id) return "uninitialized";
  if (spm && spm.status === "up") return "up";
  if (dc.spm_contending) return "contend";
  return "problematic";
}

export function dataCenterView(dc: DataCenter, spm?: Host): Rep {
  const base = href("datacenters", dc.id);
  return {
    href: base,
    id: dc.id,
    actions: undefined,
    name: dc.name,
    description: dc.description || undefined,
    comment: dc.comment || undefined,
    link: links(base, ["clusters", "permissions", "quotas", "storagedomains"]),
    local: b(dc.local),
    quota_mode: dc.quota_mode,
    // Vela extension (not in oVirt's model; clients skip unknown members): the pool's SPM and its generation.
    spm: dc.master_domain_id ? { host: spm && dc.spm_host_id === spm.id ? ref("hosts", spm.id) : undefined, lver: dc.spm_lver ?? undefined } : undefined,
    status: dcStatus(dc, spm),
    storage_format: dc.storage_format,
    supported_versions: { version: SUPPORTED_VERSIONS },
    version: { major: dc.version_major, minor: dc.version_minor },
  };
}

export function clusterView(c: Cluster): Rep {
  const base = href("clusters", c.id);
  return {
    href: base,
    id: c.id,
    actions: undefined,
    name: c.name,
    description: c.description || undefined,
    comment: c.comment || undefined,
    // libgovirt follows rel="hosts" to a cluster's hosts.
    link: links(base, ["cpuprofiles", "hosts", "permissions"]),
    cpu: { architecture: c.cpu_architecture, type: c.cpu_type || undefined },
    memory_policy: { over_commit: { percent: c.over_commit_percent } },
    ballooning_enabled: c.ballooning === 1,
    ksm: { enabled: c.ksm === 1 },
    supported_versions: { version: SUPPORTED_VERSIONS },
    version: { major: c.version_major, minor: c.version_minor },
    data_center: ref("datacenters", c.data_center_id),
    scheduling_policy: ref("schedulingpolicies", NONE_POLICY_ID),
  };
}

/** oVirt's predefined scheduling policies (ids as oVirt's); Vela's clusters use `none`. */
const NONE_POLICY_ID = "b4ed2332-a7ac-4d5f-9596-99a439cb2812";
export const SCHEDULING_POLICIES = [
  { id: NONE_POLICY_ID, name: "none", description: "", default_policy: true },
  { id: "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a", name: "evenly_distributed", description: "", default_policy: false },
  { id: "5a2b0939-7d46-4b73-a469-e9c2c7fc6a53", name: "power_saving", description: "", default_policy: false },
  { id: "8d5d7bec-68de-4a67-b53e-0ac54686d579", name: "vm_evenly_distributed", description: "", default_policy: false },
  { id: "7677771e-5eab-422e-83fa-dc04080d21b7", name: "cluster_maintenance", description: "", default_policy: false },
] as const;

/** A unit of Vela's scheduler (scheduling/units.ts); all are enabled and built in. */
export function schedulingPolicyUnitView(u: PolicyUnit): Rep {
  return { href: href("schedulingpolicyunits", u.id), id: u.id, name: u.name, description: u.description, enabled: true, internal: true, type: u.type };
}

export function schedulingPolicyView(p: (typeof SCHEDULING_POLICIES)[number]): Rep {
  return { href: href("schedulingpolicies", p.id), id: p.id, name: p.name, description: p.description || undefined, default_policy: p.default_policy, locked: true };
}

/** A cluster's default CPU profile (named after it, as oVirt names it); `inCluster`: under /clusters/{id}/cpuprofiles. */
export function cpuProfileView(c: Cluster, inCluster = false): Rep {
  const id = defaultProfileId("cpu", c.id);
  return { href: inCluster ? href("clusters", c.id, "cpuprofiles", id) : href("cpuprofiles", id), id, name: c.name, cluster: ref("clusters", c.id) };
}

/** A storage domain's default disk profile (named after it); `inDomain`: under /storagedomains/{id}/diskprofiles. */
export function diskProfileView(sd: StorageDomain, inDomain = false): Rep {
  const id = defaultProfileId("disk", sd.id);
  return { href: inDomain ? href("storagedomains", sd.id, "diskprofiles", id) : href("diskprofiles", id), id, name: sd.name, storage_domain: ref("storagedomains", sd.id) };
}

/**
 * A domain's storage server connection, as the hosts connect it: a file domain's address and
 * path (mount options, file system type); for a block domain, its type only.
 */
export function storageConnectionView(sd: StorageDomain): Rep {
  const block = sd.storage_type === "fcp" || sd.storage_type === "iscsi";
  const base = { href: href("storageconnections", sd.connection_id), id: sd.connection_id, type: sd.storage_type };
  // A block domain's LUN is a device the hosts reach locally (loop-device or iSCSI LUNs): no
  // server address or path to show; its LUN is in the domain's storage.volume_group.
  if (block) return base;
  return { ...base, address: sd.storage_address || undefined, mount_options: sd.mount_options || undefined, path: sd.storage_path, vfs_type: sd.vfs_type || undefined };
}

function capNum(caps: Record<string, unknown>, k: string): number | undefined {
  const v = Number(caps[k]);
  return Number.isFinite(v) && caps[k] !== undefined && caps[k] !== "" ? v : undefined;
}

export type SpmRole = "spm" | "contending" | "none";

export function hostView(h: Host, spmRole: SpmRole): Rep {
  const base = href("hosts", h.id);
  let caps: Record<string, unknown> = {};
  try {
    caps = JSON.parse(h.capabilities) as Record<string, unknown>;
  } catch {
    caps = {};
  }
  const os = (caps.operatingSystem ?? {}) as Record<string, unknown>;
  const memMiB = capNum(caps, "memSize");
  return {
    href: base,
    id: h.id,
    actions: actions(base, ["activate", "approve", "deactivate", "enrollcertificate", "forceselectspm", "iscsidiscover", "iscsilogin"]),
    name: h.name,
    description: h.description || undefined,
    comment: h.comment || undefined,
    // libgovirt follows rel="vms" to the VMs a host runs.
    link: links(base, ["permissions", "statistics", "vms"]),
    address: h.address,
    cpu:
      caps.cpuModel || caps.cpuCores
        ? {
            name: typeof caps.cpuModel === "string" ? caps.cpuModel : undefined,
            speed: capNum(caps, "cpuSpeed"),
            topology: { cores: capNum(caps, "cpuCores"), sockets: capNum(caps, "cpuSockets"), threads: capNum(caps, "cpuThreads") },
          }
        : undefined,
    memory: memMiB !== undefined ? memMiB * 1024 * 1024 : undefined,
    os: os.name ? { type: String(os.name), version: { full_version: [os.version, os.release].filter(Boolean).join("-") || undefined } } : undefined,
    port: h.port,
    spm: { priority: h.spm_priority, status: spmRole },
    status: h.status,
    status_detail: h.status === "non_operational" ? (h.non_operational_reason ?? undefined) : undefined,
    type: "rhel",
    cluster: ref("clusters", h.cluster_id),
  };
}

export function storageDomainView(sd: StorageDomain, att?: StorageDomainAttachment, inDc = false): Rep {
  const base = inDc && att ? href("datacenters", att.data_center_id, "storagedomains", sd.id) : href("storagedomains", sd.id);
  // Block domains keep the VG UUID in storage_path and the LUN GUID in storage_address.
  const block = sd.storage_type === "fcp" || sd.storage_type === "iscsi";
  return {
    href: base,
    id: sd.id,
    actions: inDc ? actions(base, ["activate", "deactivate"]) : undefined,
    name: sd.name,
    description: sd.description || undefined,
    comment: sd.comment || undefined,
    link: links(href("storagedomains", sd.id), ["diskprofiles", "disks", "files", "permissions"]),
    available: sd.available === null ? undefined : num(sd.available),
    committed: num(sd.committed),
    external_status: sd.external_status,
    master: att ? b(att.master) : undefined,
    // oVirt shows the global status only for unattached domains; the per-DC one in the DC's view.
    status: att ? (inDc ? att.status : undefined) : "unattached",
    storage: block
      ? { type: sd.storage_type, volume_group: { id: sd.storage_path, logical_units: { logical_unit: [{ id: sd.storage_address }] } } }
      : {
      type: sd.storage_type,
      address: sd.storage_address || undefined,
      mount_options: sd.mount_options || undefined,
      path: sd.storage_path,
      vfs_type: sd.vfs_type || undefined,
    },
    storage_format: sd.storage_format,
    type: sd.type,
    used: sd.used === null ? undefined : num(sd.used),
    data_center: inDc && att ? ref("datacenters", att.data_center_id) : undefined,
    data_centers: att ? { data_center: [ref("datacenters", att.data_center_id) as Rep] } : undefined,
  };
}

export function diskView(d: Disk): Rep {
  const base = href("disks", d.id);
  return {
    href: base,
    id: d.id,
    actions: actions(base, ["copy", "move"]),
    name: d.alias,
    description: d.description || undefined,
    link: links(base, ["permissions", "statistics"]),
    actual_size: num(d.actual_size),
    alias: d.alias,
    content_type: d.content_type,
    format: d.format,
    image_id: d.image_id,
    propagate_errors: false,
    provisioned_size: num(d.provisioned_size),
    qcow_version: d.format === "cow" ? "qcow2_v3" : undefined,
    shareable: b(d.shareable),
    sparse: b(d.sparse),
    status: d.status,
    storage_type: "image",
    total_size: num(d.actual_size),
    wipe_after_delete: b(d.wipe_after_delete),
    disk_profile: ref("diskprofiles", defaultProfileId("disk", d.storage_domain_id)),
    // oVirt names a disk's quota by id only (its href needs the data center)
    quota: d.quota_id ? { id: d.quota_id } : undefined,
    storage_domains: { storage_domain: [ref("storagedomains", d.storage_domain_id) as Rep] },
  };
}

/**
 * A disk found on a storage domain that the engine does not know: what it would be once
 * registered, without the links and actions of a registered disk (none of them answer yet).
 */
export function unregisteredDiskView(d: Disk): Rep {
  const { href: _h, actions: _a, link: _l, disk_profile: _p, quota: _q, ...rest } = diskView(d) as Record<string, Rep>;
  return rest;
}

export function diskAttachmentView(a: DiskAttachment): Rep {
  const base = href("vms", a.vm_id, "diskattachments", a.disk_id);
  return {
    href: base,
    id: a.disk_id,
    active: b(a.active),
    bootable: b(a.bootable),
    interface: a.interface,
    pass_discard: b(a.pass_discard),
    read_only: b(a.read_only),
    uses_scsi_reservation: false,
    disk: ref("disks", a.disk_id),
    vm: ref("vms", a.vm_id),
  };
}

function bootDevices(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.map(String) : ["hd"];
  } catch {
    return ["hd"];
  }
}

export const VM_ACTIONS = ["commitsnapshot", "injectnmi", "previewsnapshot", "reboot", "reset", "sendkeys", "shutdown", "start", "stop", "suspend", "ticket", "undosnapshot"];

export function vmView(v: Vm): Rep {
  const base = href("vms", v.id);
  const memory = num(v.memory);
  return {
    href: base,
    id: v.id,
    actions: actions(base, VM_ACTIONS),
    name: v.name,
    description: v.description || undefined,
    comment: v.comment || undefined,
    link: links(base, ["cdroms", "consoleoutput", "diskattachments", "graphicsconsoles", "nics", "permissions", "screenshot", "snapshots", "statistics"]),
    cpu: { architecture: "x86_64", topology: { cores: v.cpu_cores, sockets: v.cpu_sockets, threads: v.cpu_threads } },
    creation_time: date(v.created_at),
    display: { type: v.display_type, monitors: 1 },
    high_availability: { enabled: b(v.high_availability), priority: 0 },
    memory,
    memory_policy: { guaranteed: memory, max: memory * 4 },
    os: {
      boot: { devices: { device: bootDevices(v.boot_devices) } },
      cmdline: v.cmdline ?? undefined,
      initrd: v.initrd ?? undefined,
      kernel: v.kernel ?? undefined,
      type: v.os_type,
    },
    start_time: date(v.start_time),
    stateless: b(v.stateless),
    status: v.status,
    stop_time: date(v.stop_time),
    type: "server",
    cluster: ref("clusters", v.cluster_id),
    cpu_profile: ref("cpuprofiles", defaultProfileId("cpu", v.cluster_id)),
    host: v.status !== "down" ? ref("hosts", v.run_on_host_id) : undefined,
    quota: v.quota_id ? { id: v.quota_id } : undefined,
    template: ref("templates", v.template_id),
  };
}

export function templateView(t: Template): Rep {
  const base = href("templates", t.id);
  return {
    href: base,
    id: t.id,
    actions: undefined,
    name: t.name,
    description: t.description || undefined,
    comment: t.comment || undefined,
    link: links(base, ["diskattachments", "permissions"]),
    cpu: { architecture: "x86_64", topology: { cores: t.cpu_cores, sockets: t.cpu_sockets, threads: t.cpu_threads } },
    creation_time: date(t.created_at),
    display: { type: "vnc", monitors: 1 },
    high_availability: { enabled: false, priority: 0 },
    memory: num(t.memory),
    memory_policy: { guaranteed: num(t.memory), max: num(t.memory) * 4 },
    os: { boot: { devices: { device: ["hd"] } }, type: t.os_type },
    stateless: false,
    status: t.status,
    type: "server",
    version: { version_name: "base version", version_number: t.version_number, base_template: ref("templates", t.id) },
    cluster: ref("clusters", t.cluster_id),
  };
}

export function jobView(j: Job): Rep {
  const base = href("jobs", j.id);
  return {
    href: base,
    id: j.id,
    actions: undefined,
    description: j.description,
    link: links(base, ["steps"]),
    auto_cleared: true,
    end_time: date(j.end_time),
    external: false,
    last_updated: date(j.last_updated),
    start_time: date(j.start_time),
    status: j.status,
  };
}

export function stepView(s: Step): Rep {
  const base = href("jobs", s.job_id, "steps", s.id);
  return {
    href: base,
    id: s.id,
    actions: undefined,
    description: s.description,
    link: undefined,
    end_time: date(s.end_time),
    external: false,
    number: s.number,
    progress: s.progress,
    start_time: date(s.start_time),
    status: s.status,
    type: s.type,
    job: ref("jobs", s.job_id),
    execution_host: ref("hosts", s.host_id),
  };
}


export function snapshotView(s: Snapshot): Rep {
  const base = href("vms", s.vm_id, "snapshots", s.id);
  return {
    href: base,
    id: s.id,
    actions: actions(base, ["restore"]),
    description: s.description,
    link: links(base, ["disks"]),
    date: date(s.created_at),
    persist_memorystate: b(s.persist_memorystate),
    snapshot_status: s.status,
    snapshot_type: s.type,
    vm: ref("vms", s.vm_id),
  };
}

/** A disk as a snapshot holds it: the snapshot's volume as image_id, under the snapshot's href. */
export function snapshotDiskView(d: Disk, s: Snapshot, volumeId: string): Rep {
  return {
    ...diskView({ ...d, image_id: volumeId }),
    href: href("vms", s.vm_id, "snapshots", s.id, "disks", d.id),
    actions: undefined,
    link: undefined,
    snapshot: { href: href("vms", s.vm_id, "snapshots", s.id), id: s.id },
  };
}

/** Where a transfer's data goes: the host's data path and the engine's proxy of it (absolute URLs). */
export interface TransferUrls {
  transfer?: string;
  proxy?: string;
}

/** oVirt's image_transfer; the URLs only while the ticket serves data. */
export function imageTransferView(t: ImageTransfer, urls: TransferUrls): Rep {
  const base = href("imagetransfers", t.id);
  const live = t.phase === "transferring" || t.phase === "paused_user" || t.phase === "paused_system";
  return {
    href: base,
    id: t.id,
    actions: actions(base, ["cancel", "extend", "finalize"]),
    // Why it failed (the node's refusal at finalize, an inactivity timeout), for the client to show.
    description: t.message ?? undefined,
    active: live,
    direction: t.direction,
    format: t.format,
    inactivity_timeout: t.inactivity_timeout,
    phase: t.phase,
    proxy_url: live ? urls.proxy : undefined,
    shallow: false,
    // What happens at the inactivity timeout, whatever was asked (AddImageTransfer): a cancel.
    timeout_policy: "cancel",
    transfer_url: live ? urls.transfer : undefined,
    transferred: num(t.transferred),
    disk: ref("disks", t.disk_id),
    host: ref("hosts", t.host_id),
    image: { id: t.image_id },
  };
}

/** A quota, under its data center. */
export function quotaView(q: Quota): Rep {
  const base = href("datacenters", q.data_center_id, "quotas", q.id);
  return {
    href: base,
    id: q.id,
    name: q.name,
    description: q.description || undefined,
    link: links(base, ["permissions", "quotaclusterlimits", "quotastoragelimits"]),
    cluster_hard_limit_pct: q.cluster_hard_limit_pct,
    cluster_soft_limit_pct: q.cluster_soft_limit_pct,
    storage_hard_limit_pct: q.storage_hard_limit_pct,
    storage_soft_limit_pct: q.storage_soft_limit_pct,
    data_center: ref("datacenters", q.data_center_id),
  };
}

const quotaRef = (q: Quota): Rep => ({ href: href("datacenters", q.data_center_id, "quotas", q.id), id: q.id });
const GiBs = (mib: number) => Math.round((mib / 1024) * 1000) / 1000;

/** A quota's cluster limit (id: the cluster's, or the quota's own when global) with the usage now: memory in GiB, -1 unlimited. */
export function quotaClusterLimitView(q: Quota, l: QuotaLimit, use: { vcpus: number; memMiB: number }): Rep {
  const mib = num(l.memory_limit_mib);
  return {
    href: href("datacenters", q.data_center_id, "quotas", q.id, "quotaclusterlimits", l.target_id),
    id: l.target_id,
    memory_limit: mib < 0 ? -1 : GiBs(mib),
    memory_usage: GiBs(use.memMiB),
    vcpu_limit: l.vcpu_limit ?? -1,
    vcpu_usage: use.vcpus,
    cluster: l.target_id === q.id ? undefined : ref("clusters", l.target_id),
    quota: quotaRef(q),
  };
}

/** A quota's storage limit (id: the domain's, or the quota's own when global) with the usage now, in GiB; -1 unlimited. */
export function quotaStorageLimitView(q: Quota, l: QuotaLimit, usageGiB: number): Rep {
  return {
    href: href("datacenters", q.data_center_id, "quotas", q.id, "quotastoragelimits", l.target_id),
    id: l.target_id,
    limit: num(l.storage_limit_gib),
    usage: Math.round(usageGiB * 1000) / 1000,
    quota: quotaRef(q),
    storage_domain: l.target_id === q.id ? undefined : ref("storagedomains", l.target_id),
  };
}
