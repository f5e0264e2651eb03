/**
 * Benchmark (issue 4): SPM failover. Three real agents self-elect an SPM on a shared file domain;
 * the SPM is killed with SIGKILL; measured: time until another host reports SPM, and until a
 * createVolume through it succeeds. Cases by lease time (seconds, renewal 5 s as VDSM's default):
 * 20 and 60 (VDSM's default lease), each `runs` times (the kill falls at a random point of the
 * 5 s renewal cycle). Floor: safelease takes a dead holder's lease over lease + 8 × op_max after
 * the acquire first read the holder's last stamp; the election keeps a standby acquire running
 * from each renewal, so the floor counted from the kill is lease + 8 s − (time since the dead
 * SPM's last renewal), printed as since_last_renewal_ms. Baselines: VDSM with safelease at its
 * defaults (60 s lease, 10 s I/O timeout: ~140 s), sanlock-based oVirt (a host is dead to others
 * after 80–140 s).
 *   node bench/dist/src/failover.js [20,60] [runs]
 */
import { randomUUID } from "node:crypto";
import { openSync, readSync, rmSync, closeSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { Cluster, createParams, sleep } from "@vela/node/test/cluster-support";
import { waitTask } from "@vela/node/test/harness";

const CASES = (process.argv[2] ?? "20,60").split(",").map(Number);
const RUNS = Number(process.argv[3] ?? 1);

/** The SPM lease record's stamp (µs) in the master domain's dom_md/leases. */
function leaseStampUs(domainDir: string): number {
  const fd = openSync(join(domainDir, "dom_md", "leases"), "r");
  try {
    const buf = Buffer.alloc(32);
    readSync(fd, buf, 0, 32, 0);
    return Number.parseInt(buf.subarray(16, 32).toString("latin1"), 16);
  } finally {
    closeSync(fd);
  }
}

async function runCase(leaseSec: number): Promise<void> {
  const c = new Cluster({ hosts: 3, leaseTimeSec: leaseSec, renewSec: 5, env: { VELA_LOG_LEVEL: "warn" } });
  try {
    await c.start();
    const old = await c.waitSpm(120_000);
    await waitTask(old.node, (await old.node.json("Volume.create", createParams(c, randomUUID(), randomUUID()))) as string);
    await sleep(6000); // a steady state: renewals under way on every host
    await sleep(Math.random() * 5000); // any point of the renewal cycle
    const sinceRenewal = Date.now() - leaseStampUs(c.domainDir) / 1000;
    const t0 = performance.now();
    await c.kill(old);
    const next = await c.waitSpm(10 * leaseSec * 1000, old);
    const spmMs = performance.now() - t0;
    for (;;) {
      const task = (await next.node.json("Volume.create", createParams(c, randomUUID(), randomUUID())).catch(() => undefined)) as string | undefined;
      if (task && (await waitTask(next.node, task)).taskResult === "success") break;
      await sleep(50);
    }
    const createMs = performance.now() - t0;
    const floorMs = leaseSec * 1000 + 8 * 1000 - sinceRenewal;
    console.log(
      `spm-failover lease_s=${leaseSec} renew_s=5 new_spm_ms=${spmMs.toFixed(0)} first_createVolume_ms=${createMs.toFixed(0)} since_last_renewal_ms=${sinceRenewal.toFixed(0)} safelease_floor_from_kill_ms=${floorMs.toFixed(0)} vdsm_safelease_defaults_ms~140000 ovirt_sanlock_host_dead_ms=80000-140000 load1=${loadavg()[0]!.toFixed(2)}`,
    );
  } finally {
    await c.stop();
    rmSync(c.dir, { recursive: true, force: true });
  }
}

async function main() {
  for (const l of CASES) for (let i = 0; i < RUNS; i++) await runCase(l);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
