/**
 * Benchmark (issue 10): one Prometheus scrape of the engine (`GET /ovirt-engine/api/metrics`)
 * with 1,000 VMs inserted straight into a stopped engine's SQLite database (as if made over
 * time), against the bare JSON `GET /vms` list of the same VMs in the same run: p50/p99 over
 * sequential requests after a few warm-ups, one line per case. The VMs are down, so the scrape
 * carries each VM's status, memory and (zero) CPU series but no NIC or disk series: the cost
 * measured is the per-object exposition over the database rows, plus the process metrics.
 *   node bench/dist/src/metrics-scrape.js [vms=1000] [requests=20]
 */
import { startEngine } from "@vela/engine/dist/test/support.js";
import { homeWithVms, pct } from "./lib/fill.js";

const VMS = Number(process.argv[2] ?? 1000);
const REQUESTS = Number(process.argv[3] ?? 20);

async function main() {
  const env = { VELA_LOG_LEVEL: "warn" };
  const { home, port } = await homeWithVms("sqlite", VMS, "vela-bench-metrics-", env);
  const eng = await startEngine({ home, port, db: "sqlite", env });
  try {
    for (const [name, path] of [["metrics-scrape", "/metrics"], ["vms-list-json", "/vms"]] as const) {
      let bytes = 0;
      const once = async () => {
        const t = performance.now();
        const r = await eng.api("GET", path);
        if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
        bytes = Buffer.byteLength(r.text);
        if (path === "/metrics" && !r.text.includes('vela_vms{status="down"} ' + VMS)) throw new Error("the scrape does not count the VMs");
        return performance.now() - t;
      };
      for (let i = 0; i < 3; i++) await once();
      const ms: number[] = [];
      for (let i = 0; i < REQUESTS; i++) ms.push(await once());
      ms.sort((a, b) => a - b);
      console.log(`${name} db=sqlite vms=${VMS} requests=${REQUESTS} p50_ms=${pct(ms, 50).toFixed(1)} p99_ms=${pct(ms, 99).toFixed(1)} bytes=${bytes}`);
    }
  } finally {
    await eng.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
