/**
 * Benchmark (issue 12): the engine's share of `GET /vms` with 10,000 VMs, in process — building
 * the views and rendering them as JSON and XML — cold (every view new: the rendering before kept
 * views) against warm (the same rows again: views kept and their text remembered, as every list
 * after the first is). CPU time of the process per round, so a busy box counts less than in wall
 * time; the ratio is the figure. No database, no HTTP (vms-list.ts measures the whole request).
 *   node bench/dist/src/vms-render.js [vms=10000] [rounds=5]
 */
import { randomUUID } from "node:crypto";
import { collection, toJson, toXml } from "@vela/engine/dist/src/api/repr.js";
import { ViewCache } from "@vela/engine/dist/src/api/view-cache.js";
import { vmView } from "@vela/engine/dist/src/api/views.js";
import type { Vm } from "@vela/engine/dist/src/db/schema.js";

const VMS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 5);

const rows: Vm[] = Array.from({ length: VMS }, (_, i) => ({
  id: randomUUID(),
  name: `vm-${String(i).padStart(5, "0")}`,
  description: "",
  comment: "",
  cluster_id: randomUUID(),
  template_id: "00000000-0000-0000-0000-000000000000",
  memory: 2 ** 30,
  cpu_sockets: 1,
  cpu_cores: 2,
  cpu_threads: 1,
  os_type: "other_linux",
  boot_devices: '["hd"]',
  display_type: "vnc",
  status: "down",
  created_at: new Date().toISOString(),
})) as unknown as Vm[];

function round(view: (r: Vm) => ReturnType<typeof vmView>): { cpu: number; bytes: number } {
  const t = process.cpuUsage();
  const reps = rows.map((r) => view({ ...r }));
  const j = toJson(collection("vm", reps));
  const x = toXml("vms", collection("vm", reps));
  const u = process.cpuUsage(t);
  return { cpu: (u.user + u.system) / 1000, bytes: j.length + x.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const cold: number[] = [];
const warm: number[] = [];
const cache = new ViewCache<Vm>(vmView);
round((r) => cache.get(r)); // fills the cache
for (let i = 0; i < ROUNDS; i++) {
  cold.push(round(vmView).cpu);
  warm.push(round((r) => cache.get(r)).cpu);
}
console.log(`vms-render vms=${VMS} rounds=${ROUNDS} cold_cpu_ms=${median(cold).toFixed(0)} kept_cpu_ms=${median(warm).toFixed(0)} ratio=${(median(warm) / median(cold)).toFixed(2)} (views + JSON + XML of one list)`);
