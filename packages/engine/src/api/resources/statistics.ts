/**
 * GET …/statistics of hosts, VMs, VM NICs and disks: the monitors' latest figures (getVdsStats,
 * getAllVmStats) in oVirt's statistics shape (api/statistics.ts).
 */
import { mustById } from "../../db/repo/entities.js";
import { mustNic } from "../../db/repo/nics.js";
import { diskStats, hostStats, vmStats } from "../../monitoring/stats.js";
import { type Call, ok, pathId, type Reply } from "../call.js";
import { href, ref } from "../href.js";
import { collection } from "../repr.js";
import { diskStatistics, hostStatistics, nicStatistics, statisticsRep, vmStatistics } from "../statistics.js";

const MiB = 2 ** 20;

export async function host(c: Call): Promise<Reply> {
  const h = await mustById(c.engine, "hosts", pathId(c, "id", "Host"));
  return ok("statistics", collection("statistic", statisticsRep(h.id, { host: ref("hosts", h.id) }, hostStatistics(hostStats(c.engine, h.id)))));
}

export async function vm(c: Call): Promise<Reply> {
  const v = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  const sample = v.status === "down" ? undefined : vmStats(c.engine, v.id);
  return ok("statistics", collection("statistic", statisticsRep(v.id, { vm: ref("vms", v.id) }, vmStatistics(sample, Number(v.memory) / MiB))));
}

export async function nic(c: Call): Promise<Reply> {
  const v = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  const n = await mustNic(c.engine, v.id, pathId(c, "nic", "NIC"));
  const sample = v.status === "down" ? undefined : vmStats(c.engine, v.id);
  const owner = { nic: { href: href("vms", v.id, "nics", n.id), id: n.id } };
  return ok("statistics", collection("statistic", statisticsRep(n.id, owner, nicStatistics(sample, n.mac))));
}

export async function disk(c: Call): Promise<Reply> {
  const d = await mustById(c.engine, "disks", pathId(c, "id", "Disk"));
  return ok("statistics", collection("statistic", statisticsRep(d.id, { disk: ref("disks", d.id) }, diskStatistics(diskStats(c.engine, d.id)))));
}
