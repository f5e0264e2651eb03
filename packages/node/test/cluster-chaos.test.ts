/**
 * Chaos, short variant: three real agents share one storage directory; about 100 create / snapshot /
 * delete requests with caller-chosen UUIDs are sent through non-SPM hosts (which answer
 * SpmStatusError, so the client finds the SPM and retries there) while the SPM is killed (and
 * restarted) and frozen past its lease. Every request ends done (retried idempotently where an
 * SPM died under it); afterwards no volume is lost, duplicated or half-created, every chain is valid
 * (on-disk checker, qemu-img included), and the audit log shows no write by a superseded SPM.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { checkFileDomain } from "../src/storage/check.js";
import { readAudit } from "../src/storage/fence.js";
import { RpcError } from "./harness.js";
import { Cluster, createParams, type Host, sleep } from "./cluster-support.js";

const LEASE_SEC = 6;
const IMAGES = 10;
const OPS = 100;
const c = new Cluster({ hosts: 3, leaseTimeSec: LEASE_SEC, renewSec: 1 });
before(() => c.start());
after(() => c.stop());

/** Small deterministic PRNG so a failing run can be replayed (seed printed). */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const seed = Number(process.env.VELA_CHAOS_SEED ?? Date.now() % 100000);
const rand = prng(seed);
const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timeout ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

const stats = { requests: 0, sent: 0, redirects: 0, retries: 0, lostTasks: 0 };
let knownSpm: Host | undefined;
/** Set when the test has failed, so the other workers stop instead of retrying for minutes. */
let stopAll = false;

const usable = () => c.hosts.filter((h) => h.alive && !h.frozen);

/** Asks the hosts who is SPM (waiting out a failover). */
async function findSpm(): Promise<Host> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    for (const h of usable()) {
      const st = await withTimeout(c.spmStatus(h), 3000).catch(() => undefined);
      if (st?.spmStatus === "SPM") return h;
    }
    if (Date.now() > deadline) throw new Error("no SPM for 90 s");
    await sleep(250);
  }
}

type Op = { kind: "create" | "snapshot" | "delete"; img: string; vol: string; parent?: string };

async function waitTaskOn(h: Host, taskID: string): Promise<{ taskResult: string; code: number; message: string } | undefined> {
  const deadline = Date.now() + 20_000;
  let unsettledSince = 0;
  while (Date.now() < deadline) {
    const st = (await withTimeout(h.node.json("Task.getStatus", { taskID }), 5000)) as { taskState: string; taskResult: string; code: number; message: string };
    if (st.taskState === "finished") return st;
    // Fenced tasks wait for the next SPM ("cleaning"): give up on this host and retry elsewhere.
    if (st.taskState !== "running") {
      unsettledSince ||= Date.now();
      if (Date.now() - unsettledSince > 1500) return undefined;
    }
    await sleep(40);
  }
  return undefined;
}

/** One request, retried until it is done: the client side of idempotency. */
async function perform(op: Op): Promise<void> {
  stats.requests++;
  let reachedSpm = false;
  for (let attempt = 0; attempt < 400; attempt++) {
    if (stopAll) throw new Error("stopped: another request failed");
    // First try through a host that is not the SPM, as a client that does not know it would.
    const nonSpm = usable().filter((h) => h !== knownSpm);
    const entry = attempt === 0 ? pick(nonSpm.length ? nonSpm : usable()) : knownSpm && usable().includes(knownSpm) ? knownSpm : pick(usable());
    if (!entry) {
      await sleep(200);
      continue;
    }
    if (attempt > 0) stats.retries++;
    try {
      stats.sent++;
      const verb = op.kind === "delete" ? "Volume.delete" : "Volume.create";
      const params =
        op.kind === "delete"
          ? { storagedomainID: c.sdUUID, storagepoolID: c.spUUID, imageID: op.img, volumeID: [op.vol], postZero: false, force: false }
          : createParams(c, op.img, op.vol, op.parent);
      const taskID = (await withTimeout(entry.node.json(verb, params), 5000)) as string;
      reachedSpm = true;
      const st = await waitTaskOn(entry, taskID).catch(() => undefined);
      if (st?.taskResult === "success") return;
      if (st === undefined) stats.lostTasks++;
      await sleep(200);
    } catch (err) {
      // 654: not SPM; 309: an agent just restarted that has not reconnected the pool yet.
      if (err instanceof RpcError && (err.code === 654 || err.code === 309)) {
        stats.redirects++;
        knownSpm = await findSpm();
        continue;
      }
      // A delete whose earlier attempt ran (its SPM died before we saw the result) finds nothing.
      if (err instanceof RpcError && err.code === 201 && op.kind === "delete" && reachedSpm) return;
      if (err instanceof RpcError) throw new Error(`${op.kind} ${op.vol}: unexpected error ${err.code} ${err.message}`);
      // Network error or timeout: that host died or froze under us; look again.
      reachedSpm = true;
      knownSpm = undefined;
      await sleep(300);
    }
  }
  throw new Error(`${op.kind} ${op.vol}: not done after 400 attempts`);
}

test("~100 create/snapshot/delete requests through non-SPM hosts survive SPM kills and freezes", { timeout: 240_000 }, async () => {
  console.log(`cluster-chaos: seed ${seed} (VELA_CHAOS_SEED to replay)`);
  knownSpm = await c.waitSpm(40_000);
  const chains = new Map<string, string[]>();
  let issued = 0;
  let chaosDone = false;
  const t0 = Date.now();

  const worker = async () => {
    const img = randomUUID();
    const base = randomUUID();
    issued++;
    await perform({ kind: "create", img, vol: base });
    chains.set(img, [base]);
    while (issued < OPS) {
      issued++;
      const chain = chains.get(img)!;
      if (chain.length > 1 && rand() < 0.4) {
        const leaf = chain.at(-1)!;
        await perform({ kind: "delete", img, vol: leaf });
        chain.pop();
      } else {
        const vol = randomUUID();
        await perform({ kind: "snapshot", img, vol, parent: chain.at(-1)! });
        chain.push(vol);
      }
      // Spread the work over the chaos so requests meet every failover.
      await sleep(chaosDone ? 20 : 300 + rand() * 1500);
    }
  };

  const chaos = async () => {
    const kinds = rand() < 0.5 ? (["kill", "freeze"] as const) : (["freeze", "kill"] as const);
    for (const kind of kinds) {
      await sleep(1000 + rand() * 3000);
      const spm = await findSpm();
      const at = Date.now() - t0;
      if (kind === "kill") {
        await c.kill(spm);
        const next = await c.waitSpm(60_000, spm);
        console.log(`cluster-chaos: t=${at} ms kill -9 SPM host ${spm.hostID}; host ${next.hostID} SPM after ${Date.now() - t0 - at} ms`);
        await c.restart(spm);
      } else {
        c.freeze(spm);
        const next = await c.waitSpm(60_000, spm);
        console.log(`cluster-chaos: t=${at} ms SIGSTOP SPM host ${spm.hostID}; host ${next.hostID} SPM after ${Date.now() - t0 - at} ms`);
        await sleep(rand() * 2000);
        c.thaw(spm);
      }
    }
    chaosDone = true;
  };

  await Promise.all([chaos(), ...Array.from({ length: IMAGES }, worker)]).catch((err) => {
    stopAll = true;
    throw err;
  });
  console.log(`cluster-chaos: ${stats.requests} requests done in ${Date.now() - t0} ms; ${stats.sent} sends, ${stats.redirects} SpmStatusError redirects, ${stats.retries} retries, ${stats.lostTasks} tasks lost with their SPM and redone`);

  // Exactly one SPM at the end, and the domain is exactly what the clients were told.
  const spm = await c.waitSpm(60_000);
  assert.equal((await c.spms()).length, 1);
  const report = await checkFileDomain(c.domainDir);
  assert.deepEqual(report.problems, [], "on-disk checker");
  const images = readdirSync(join(c.domainDir, "images")).sort();
  assert.deepEqual(images, [...chains.keys()].sort(), "images on disk = images created (none lost, none half-made)");
  for (const [img, chain] of chains) {
    const vols = report.volumes.filter((v) => v.image === img);
    assert.deepEqual(vols.map((v) => v.volume).sort(), [...chain].sort(), `volumes of ${img}`);
    const leaf = vols.find((v) => v.md.VOLTYPE === "LEAF");
    assert.deepEqual(leaf?.chain, [...chain].reverse(), `chain of ${img}`);
  }
  // No write by a superseded SPM: once LVER n+1 wrote, nobody writes with n or below.
  let top = -1;
  for (const e of readAudit(c.masterDir)) {
    assert.ok(e.lver >= top, `stale write by host ${e.host} with LVER ${e.lver} after LVER ${top} took over: ${e.op} ${e.path}`);
    top = Math.max(top, e.lver);
  }
  console.log(`cluster-chaos: final SPM host ${spm.hostID} LVER ${top}; ${report.volumes.length} volumes in ${chains.size} images verified`);
});
