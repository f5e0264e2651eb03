/**
 * The Prometheus exposition of the engine's figures (GET /ovirt-engine/api/metrics): the same
 * sources and the same computations as the statistics API (api/statistics.ts over the monitors'
 * samples in monitoring/stats.ts, the storage domains' rows), renamed to Prometheus conventions
 * (base units, `_ratio` for fractions, `_total` for counters), labelled with ids and names, plus
 * counts of VMs and hosts by status and the engine process's own default metrics (prom-client).
 * Each scrape builds a fresh registry from the current state: objects that are gone have no
 * series, and no figure is kept between scrapes.
 */
import type { VmStats } from "@vela/protocol";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { Engine } from "../engine.js";
import { allVmStats, driveSample, hostStats, type Sample } from "../monitoring/stats.js";
import { spmRoles } from "./resources/hosts.js";
import { diskStatistics, hostStatistics, nicEntry, nicStatistics, type Stat, vmStatistics } from "./statistics.js";

const MiB = 2 ** 20;

/** One metric family of a scrape: set a series by its label values. */
type Put = (labels: Record<string, string>, value: number) => void;

/** How a statistic of the statistics API becomes a series: its metric, help, scale and fixed labels. */
interface Mapping {
  metric: string;
  help: string;
  kind: "gauge" | "counter";
  /** Multiplies the statistic (percent → ratio is 0.01). */
  scale?: number;
  extra?: Record<string, string>;
}

const HOST_STATS: Record<string, Mapping> = {
  "memory.total": { metric: "vela_host_memory_total_bytes", help: "Host memory (statistic memory.total)", kind: "gauge" },
  "memory.used": { metric: "vela_host_memory_used_bytes", help: "Host memory in use (statistic memory.used)", kind: "gauge" },
  "memory.free": { metric: "vela_host_memory_free_bytes", help: "Host memory free (statistic memory.free)", kind: "gauge" },
  "swap.total": { metric: "vela_host_swap_total_bytes", help: "Host swap (statistic swap.total)", kind: "gauge" },
  "swap.used": { metric: "vela_host_swap_used_bytes", help: "Host swap in use (statistic swap.used)", kind: "gauge" },
  "cpu.current.user": { metric: "vela_host_cpu_usage_ratio", help: "Host CPU use by mode, 0..1 (statistics cpu.current.*)", kind: "gauge", scale: 0.01, extra: { mode: "user" } },
  "cpu.current.system": { metric: "vela_host_cpu_usage_ratio", help: "", kind: "gauge", scale: 0.01, extra: { mode: "system" } },
  "cpu.current.idle": { metric: "vela_host_cpu_usage_ratio", help: "", kind: "gauge", scale: 0.01, extra: { mode: "idle" } },
  "cpu.load.avg.5m": { metric: "vela_host_load5", help: "Host 5-minute load average (statistic cpu.load.avg.5m)", kind: "gauge" },
  "boot.time": { metric: "vela_host_boot_time_seconds", help: "Host boot time, Unix seconds (statistic boot.time)", kind: "gauge" },
};

const VM_STATS: Record<string, Mapping> = {
  "memory.installed": { metric: "vela_vm_memory_installed_bytes", help: "VM memory configured (statistic memory.installed)", kind: "gauge" },
  "memory.used": { metric: "vela_vm_memory_used_bytes", help: "VM memory in use (statistic memory.used)", kind: "gauge" },
  "memory.free": { metric: "vela_vm_memory_free_bytes", help: "VM memory free (statistic memory.free)", kind: "gauge" },
  "memory.balloon.current": { metric: "vela_vm_balloon_current_bytes", help: "Memory the VM's balloon leaves the guest (statistic memory.balloon.current)", kind: "gauge" },
  "memory.balloon.target": { metric: "vela_vm_balloon_target_bytes", help: "The VM's balloon target (statistic memory.balloon.target)", kind: "gauge" },
  "memory.balloon.min": { metric: "vela_vm_balloon_min_bytes", help: "Least memory the VM's balloon leaves (statistic memory.balloon.min)", kind: "gauge" },
  "cpu.current.total": { metric: "vela_vm_cpu_usage_ratio", help: "VM CPU use, 0..1 of its vCPUs (statistic cpu.current.total)", kind: "gauge", scale: 0.01 },
  "cpu.current.guest": { metric: "vela_vm_cpu_guest_ratio", help: "VM CPU used by the guest, 0..1 (statistic cpu.current.guest)", kind: "gauge", scale: 0.01 },
  "cpu.current.hypervisor": { metric: "vela_vm_cpu_hypervisor_ratio", help: "VM CPU overhead, 0..1 (statistic cpu.current.hypervisor)", kind: "gauge", scale: 0.01 },
  "elapsed.time": { metric: "vela_vm_uptime_seconds", help: "Time since the VM started (statistic elapsed.time)", kind: "gauge" },
};

const NIC_STATS: Record<string, Mapping> = {
  "data.total.rx": { metric: "vela_vm_nic_receive_bytes_total", help: "Bytes a VM NIC received (statistic data.total.rx)", kind: "counter" },
  "data.total.tx": { metric: "vela_vm_nic_transmit_bytes_total", help: "Bytes a VM NIC sent (statistic data.total.tx)", kind: "counter" },
  "errors.total.rx": { metric: "vela_vm_nic_receive_errors_total", help: "Receive errors of a VM NIC (statistic errors.total.rx)", kind: "counter" },
  "errors.total.tx": { metric: "vela_vm_nic_transmit_errors_total", help: "Transmit errors of a VM NIC (statistic errors.total.tx)", kind: "counter" },
};

const DISK_STATS: Record<string, Mapping> = {
  "data.total.read": { metric: "vela_vm_disk_read_bytes_total", help: "Bytes read from a VM disk (statistic data.total.read)", kind: "counter" },
  "data.total.write": { metric: "vela_vm_disk_written_bytes_total", help: "Bytes written to a VM disk (statistic data.total.write)", kind: "counter" },
  "disk.read.operations": { metric: "vela_vm_disk_reads_completed_total", help: "Reads completed on a VM disk (statistic disk.read.operations)", kind: "counter" },
  "disk.write.operations": { metric: "vela_vm_disk_writes_completed_total", help: "Writes completed on a VM disk (statistic disk.write.operations)", kind: "counter" },
  "disk.read.latency": { metric: "vela_vm_disk_read_latency_seconds", help: "Mean read time over the last monitoring interval (statistic disk.read.latency)", kind: "gauge" },
  "disk.write.latency": { metric: "vela_vm_disk_write_latency_seconds", help: "Mean write time over the last monitoring interval (statistic disk.write.latency)", kind: "gauge" },
  "disk.flush.latency": { metric: "vela_vm_disk_flush_latency_seconds", help: "Mean flush time over the last monitoring interval (statistic disk.flush.latency)", kind: "gauge" },
};

/** One scrape's metric families, made on first use. */
class Scrape {
  readonly reg = new Registry();
  private readonly families = new Map<string, Put>();

  family(kind: "gauge" | "counter", name: string, help: string, labelNames: string[]): Put {
    let put = this.families.get(name);
    if (!put) {
      if (kind === "counter") {
        const m = new Counter({ name, help, labelNames, registers: [this.reg] });
        // a counter is exposed as the node's cumulative figure, not incremented here
        put = (labels, value) => m.inc(labels, Math.max(0, value));
      } else {
        const m = new Gauge({ name, help, labelNames, registers: [this.reg] });
        put = (labels, value) => m.set(labels, value);
      }
      this.families.set(name, put);
    }
    return put;
  }

  /** The statistics of one object, through a mapping table (statistics without a mapping are not exposed). */
  stats(table: Record<string, Mapping>, stats: Stat[], labels: Record<string, string>): void {
    for (const s of stats) {
      const m = table[s.name];
      if (!m) continue;
      const extra = m.extra ?? {};
      // the help text is the family's first mapping's (the later ones of a family leave it empty)
      const help = m.help || Object.values(table).find((x) => x.metric === m.metric && x.help)?.help || m.metric;
      this.family(m.kind, m.metric, help, [...Object.keys(labels), ...Object.keys(extra)])({ ...labels, ...extra }, s.value * (m.scale ?? 1));
    }
  }
}

/** The engine process's own metrics (CPU, memory, event loop, GC), collected from the first scrape on. */
const processRegistries = new WeakMap<Engine, Registry>();

function processRegistry(e: Engine): Registry {
  let reg = processRegistries.get(e);
  if (!reg) {
    reg = new Registry();
    collectDefaultMetrics({ register: reg });
    processRegistries.set(e, reg);
  }
  return reg;
}

async function hostsPart(e: Engine, s: Scrape): Promise<void> {
  const hosts = await e.db.selectFrom("hosts").selectAll().orderBy("name").execute();
  const role = await spmRoles(e);
  const byStatus = new Map<string, number>();
  for (const h of hosts) {
    const labels = { host_id: h.id, host_name: h.name };
    s.family("gauge", "vela_host_up", "1 when the host is up, else 0", ["host_id", "host_name"])(labels, h.status === "up" ? 1 : 0);
    s.family("gauge", "vela_host_status", "The host's status (1 for the status it is in)", ["host_id", "host_name", "status"])({ ...labels, status: h.status }, 1);
    s.family("gauge", "vela_host_spm_role", "The host's SPM role: spm, contending or none (1 for the role it has)", ["host_id", "host_name", "role"])({ ...labels, role: role(h) }, 1);
    s.stats(HOST_STATS, hostStatistics(hostStats(e, h.id)), labels);
    byStatus.set(h.status, (byStatus.get(h.status) ?? 0) + 1);
  }
  const count = s.family("gauge", "vela_hosts", "Hosts by status", ["status"]);
  for (const [status, n] of byStatus) count({ status }, n);
}

interface VmRow {
  id: string;
  name: string;
  status: string;
  memory: number;
}

async function vmsPart(e: Engine, s: Scrape): Promise<Map<string, { vm: VmRow; sample: Sample<VmStats> }>> {
  const vms = await e.db.selectFrom("vms").select(["id", "name", "status", "memory"]).orderBy("name").execute();
  const samples = allVmStats(e);
  const running = new Map<string, { vm: VmRow; sample: Sample<VmStats> }>();
  const byStatus = new Map<string, number>();
  for (const v of vms) {
    const labels = { vm_id: v.id, vm_name: v.name };
    // as GET /vms/{id}/statistics: a VM that is down has no figures (zeros)
    const sample = v.status === "down" ? undefined : samples.get(v.id);
    if (sample) running.set(v.id, { vm: v, sample });
    s.family("gauge", "vela_vm_status", "The VM's status (1 for the status it is in)", ["vm_id", "vm_name", "status"])({ ...labels, status: v.status }, 1);
    s.stats(VM_STATS, vmStatistics(sample, Number(v.memory) / MiB), labels);
    byStatus.set(v.status, (byStatus.get(v.status) ?? 0) + 1);
  }
  const count = s.family("gauge", "vela_vms", "VMs by status", ["status"]);
  for (const [status, n] of byStatus) count({ status }, n);
  return running;
}

/** NICs and disks of the running VMs (a VM that is down has no NIC or disk figures). */
async function devicesPart(e: Engine, s: Scrape, running: Map<string, { vm: VmRow; sample: Sample<VmStats> }>): Promise<void> {
  if (!running.size) return;
  const nics = await e.db.selectFrom("vm_nics").select(["id", "owner_id", "name", "mac"]).orderBy("name").execute();
  for (const n of nics) {
    const r = running.get(n.owner_id);
    if (!r) continue;
    const labels = { vm_id: r.vm.id, vm_name: r.vm.name, nic_id: n.id, nic_name: n.name };
    s.stats(NIC_STATS, nicStatistics(r.sample, n.mac), labels);
    // drops are not among oVirt's NIC statistics: read from the same entry of the same sample
    const entry = nicEntry(r.sample.stats, n.mac) ?? {};
    s.family("counter", "vela_vm_nic_receive_drops_total", "Received packets a VM NIC dropped", Object.keys(labels))(labels, Number(entry.rxDropped ?? 0) || 0);
    s.family("counter", "vela_vm_nic_transmit_drops_total", "Packets a VM NIC dropped on sending", Object.keys(labels))(labels, Number(entry.txDropped ?? 0) || 0);
  }
  const aliases = new Map((await e.db.selectFrom("disks").select(["id", "alias"]).execute()).map((d) => [d.id, d.alias]));
  const timeTotals: [string, string, string][] = [
    ["readTimeNs", "vela_vm_disk_read_time_seconds_total", "Time spent in completed reads of a VM disk"],
    ["writeTimeNs", "vela_vm_disk_write_time_seconds_total", "Time spent in completed writes of a VM disk"],
    ["flushTimeNs", "vela_vm_disk_flush_time_seconds_total", "Time spent in completed flushes of a VM disk"],
  ];
  for (const { vm, sample } of running.values()) {
    for (const drive of Object.values(sample.stats.disks ?? {})) {
      const diskId = drive.imageID;
      const alias = diskId ? aliases.get(diskId) : undefined;
      if (!diskId || alias === undefined) continue; // the CD-ROM, a seed disk: not disks of the API
      const d = driveSample(sample, diskId);
      const labels = { vm_id: vm.id, vm_name: vm.name, disk_id: diskId, disk_name: alias };
      s.stats(DISK_STATS, diskStatistics(d), labels);
      for (const [key, metric, help] of timeTotals) s.family("counter", metric, help, Object.keys(labels))(labels, (Number(drive[key] ?? 0) || 0) / 1e9);
      s.family("counter", "vela_vm_disk_flushes_completed_total", "Flushes completed on a VM disk", Object.keys(labels))(labels, Number(drive.flushOps ?? 0) || 0);
    }
  }
}

async function storagePart(e: Engine, s: Scrape): Promise<void> {
  const sds = await e.db.selectFrom("storage_domains").select(["id", "name", "type", "used", "available", "committed"]).orderBy("name").execute();
  const names = ["storage_domain_id", "storage_domain_name", "type"];
  for (const sd of sds) {
    const labels = { storage_domain_id: sd.id, storage_domain_name: sd.name, type: sd.type };
    // as the storage domain's representation: used and available only once a host reported them
    if (sd.used !== null) s.family("gauge", "vela_storage_domain_used_bytes", "Bytes used on the storage domain (its `used`)", names)(labels, Number(sd.used));
    if (sd.available !== null) s.family("gauge", "vela_storage_domain_available_bytes", "Bytes free on the storage domain (its `available`)", names)(labels, Number(sd.available));
    s.family("gauge", "vela_storage_domain_committed_bytes", "Bytes promised to the domain's disks (its `committed`)", names)(labels, Number(sd.committed));
  }
}

/** The whole exposition, in the Prometheus text format. */
export async function scrape(e: Engine): Promise<{ type: string; body: string }> {
  const s = new Scrape();
  await hostsPart(e, s);
  const running = await vmsPart(e, s);
  await devicesPart(e, s, running);
  await storagePart(e, s);
  const merged = Registry.merge([processRegistry(e), s.reg]);
  return { type: merged.contentType, body: await merged.metrics() };
}
