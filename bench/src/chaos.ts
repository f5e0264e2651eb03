/**
 * Benchmark (issue 4), long chaos: three real agents and a real engine (engine mode of the cluster
 * test support, as `vela up --hosts 3`), 1000 requests with caller-chosen keys — volume create /
 * snapshot / delete through non-SPM hosts; disk add / remove and VM snapshots through the engine's
 * REST API — while the SPM is killed (kill -9, then restarted) or frozen (SIGSTOP past its lease,
 * then SIGCONT) 5 times at random. Every request ends done or failed-then-retried idempotently; at the
 * end the storage is verified (on-disk checker with qemu-img, images, chains, the engine's disks,
 * the audit log of metadata writes). Lease shortened to 10 s (renewal 2 s) so the run takes
 * minutes; the failover figures are per event.
 *   node bench/dist/src/chaos.js [requests=1000] [lease_s=10] [seed]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Chaos, percentile, prng } from "@vela/node/test/chaos";
import { Cluster } from "@vela/node/test/cluster-support";

const REQUESTS = Number(process.argv[2] ?? 1000);
const LEASE = Number(process.argv[3] ?? 10);
const SEED = Number(process.argv[4] ?? Date.now() % 100000);

async function main() {
  const rand = prng(SEED + 1);
  const events = Array.from({ length: 5 }, () => (rand() < 0.5 ? "kill" : "freeze") as "kill" | "freeze");
  const c = new Cluster({ hosts: 3, leaseTimeSec: LEASE, renewSec: 2, engine: true, env: { VELA_LOG_LEVEL: process.env.VELA_LOG_LEVEL ?? "info" } });
  try {
    await c.start();
    const chaos = new Chaos(c, { requests: REQUESTS, engineShare: 0.3, nodeWorkers: 10, engineWorkers: 3, vmSnapshots: true, events, seed: SEED, log: (l) => console.log(`# ${l}`) });
    const s = await chaos.run();
    const v = await chaos.verify();
    const f = s.failovers.map((x) => x.ms);
    console.log(`chaos seed=${SEED} lease_s=${LEASE} renew_s=2 hosts=3 load1=${loadavg()[0]!.toFixed(2)}`);
    console.log(`chaos requests=${s.requests} node=${s.nodeRequests} engine=${s.engineRequests} all_done=1`);
    console.log(`chaos sends=${s.sent} retries=${s.retries} spm_redirects=${s.redirects} tasks_lost_and_redone=${s.lostTasks} vm_snapshot_removals=${s.snapshotRemovals}`);
    console.log(`chaos failovers=${s.failovers.length} kinds=${s.failovers.map((x) => x.kind).join(",")} failover_ms=${f.join(",")} max_ms=${Math.max(...f)}`);
    console.log(`chaos time_ms=${s.durationMs} throughput_req_s=${((s.requests * 1000) / s.durationMs).toFixed(2)}`);
    console.log(`chaos request_p50_ms=${percentile(s.latenciesMs, 50).toFixed(0)} request_p99_ms=${percentile(s.latenciesMs, 99).toFixed(0)} max_ms=${Math.max(...s.latenciesMs).toFixed(0)}`);
    const snaps = [...chaos.vms.values()].reduce((n, x) => n + x.snapshots.length, 0);
    console.log(`chaos verified images=${chaos.chains.size + chaos.disks.size} vm_snapshots=${snaps} volumes=${v.volumes} engine_disks=${chaos.disks.size} final_spm=${v.spm} lver=${v.lver} lost=0 duplicated=0 half_made=0`);
  } catch (err) {
    // Keep what the agents and the engine logged, for the post-mortem.
    const dir = mkdtempSync(join(tmpdir(), "vela-chaos-fail-"));
    for (const h of c.hosts) writeFileSync(join(dir, `host${h.hostID}-${h.port}.log`), h.node.output());
    if (c.engine) writeFileSync(join(dir, "engine.log"), c.engine.output());
    console.error(`chaos: failed; logs in ${dir}`);
    throw err;
  } finally {
    await c.stop();
    rmSync(c.dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
