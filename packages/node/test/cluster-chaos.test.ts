/**
 * Chaos, short variant: three real agents share one storage directory and a real engine built the
 * pool (as `vela up --hosts 3` does); 100 requests with caller-chosen keys: create / snapshot /
 * delete volumes sent through non-SPM hosts (which answer SpmStatusError, so the client finds the
 * SPM and retries there), and disk add / remove (caller-chosen disk ids) and VM snapshot create /
 * remove (keyed by their description) through the engine's REST API, while the SPM is killed (and restarted) and
 * frozen past its lease. Every request ends done (retried idempotently where an SPM died under
 * it); afterwards no volume, disk or snapshot is lost, duplicated or half-created, every chain is
 * valid (on-disk checker, qemu-img included), the engine lists exactly the disks and snapshots
 * made, and the audit log shows no write by a superseded SPM. The long variant is
 * `bench/src/chaos.ts`.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Chaos } from "./chaos.js";
import { Cluster } from "./cluster-support.js";

const c = new Cluster({ hosts: 3, leaseTimeSec: 6, renewSec: 1, engine: true });
before(() => c.start());
after(() => c.stop());

const seed = Number(process.env.VELA_CHAOS_SEED ?? Date.now() % 100000);

test("~100 requests through non-SPM hosts and the engine survive SPM kills and freezes", { timeout: 300_000 }, async () => {
  console.log(`cluster-chaos: seed ${seed} (VELA_CHAOS_SEED to replay)`);
  const chaos = new Chaos(c, {
    requests: 100,
    engineShare: 0.3,
    nodeWorkers: 8,
    engineWorkers: 2,
    vmSnapshots: true,
    events: seed % 2 ? ["kill", "freeze"] : ["freeze", "kill"],
    seed,
    log: (l) => console.log(`cluster-chaos: ${l}`),
  });
  const s = await chaos.run(240_000);
  console.log(
    `cluster-chaos: ${s.requests} requests (${s.nodeRequests} node, ${s.engineRequests} engine) done in ${s.durationMs} ms; ${s.sent} sends, ${s.redirects} SpmStatusError redirects, ${s.retries} retries, ${s.lostTasks} tasks lost with their SPM and redone, ${s.snapshotRemovals} VM snapshots removed`,
  );
  assert.equal(s.requests, 100);
  assert.ok(s.engineRequests > 0 && s.nodeRequests > 0);
  assert.equal(s.failovers.length, 2);
  const v = await chaos.verify();
  const snaps = [...chaos.vms.values()].reduce((n, x) => n + x.snapshots.length, 0);
  console.log(
    `cluster-chaos: final SPM host ${v.spm} LVER ${v.lver}; ${v.volumes} volumes in ${chaos.chains.size} images and ${chaos.disks.size} engine disks (${snaps} VM snapshots) verified`,
  );
});
