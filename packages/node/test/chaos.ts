/**
 * The chaos workload (issue 4) over a test cluster, for the chaos test and the chaos benchmark:
 * clients that create, snapshot and delete volumes through hosts that are not the SPM (and, in
 * engine mode, disks and VM snapshots through the engine's REST API) while the SPM is killed or
 * frozen; every request is retried until done with the caller's ids, then `verify` checks storage
 * is exactly what the clients were told. Also the seeded PRNG and percentile it reports with.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { readAudit } from "../src/storage/spm/fence.js";
import { createParams } from "./cluster-rpc.js";
import type { Cluster, Host } from "./cluster-support.js";
import { type RestReply, restItems } from "./engine-proc.js";
import { RpcError } from "./harness.js";
import { sleep, until, withTimeout } from "./wait.js";

/** Small deterministic PRNG so a failing chaos run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : Number.NaN;
}

export interface ChaosOptions {
  /** Requests in all: node-level create/snapshot/delete plus engine disk add/remove. */
  requests: number;
  /** Share of the requests that go through the engine's REST API (engine mode only). */
  engineShare?: number;
  /** Parallel clients on node verbs (one image each) and on the engine (disks). */
  nodeWorkers: number;
  engineWorkers?: number;
  /** SPM failures, in order; each hits whoever is SPM at that moment. */
  events: ("kill" | "freeze")[];
  /** Engine clients also take and remove (cold merge) VM snapshots (a VM with one disk each). */
  vmSnapshots?: boolean;
  seed: number;
  log?: (line: string) => void;
}

export interface ChaosStats {
  requests: number;
  nodeRequests: number;
  engineRequests: number;
  sent: number;
  redirects: number;
  retries: number;
  lostTasks: number;
  /** VM snapshots removed through the engine (merges), retries not counted. */
  snapshotRemovals: number;
  failovers: { kind: string; host: number; next: number; ms: number }[];
  durationMs: number;
  latenciesMs: number[];
}

type NodeOp = { kind: "create" | "snapshot" | "delete"; img: string; vol: string; parent?: string };

/**
 * The chaos workload (issue 4): clients send create/snapshot/delete requests with caller-chosen
 * UUIDs through hosts that are not the SPM (they answer SpmStatusError; the client finds the SPM
 * and retries there) and, in engine mode, disk add/remove through the engine's REST API with
 * caller-chosen disk ids and VM snapshot create/remove (keyed by description), while the SPM is killed (then restarted) or frozen past its lease (then
 * continued). Every request is retried until done; a retry is idempotent because the ids are the
 * caller's. `verify` then checks the storage is exactly what the clients were told.
 */
export class Chaos {
  readonly stats: ChaosStats = {
    requests: 0,
    nodeRequests: 0,
    engineRequests: 0,
    sent: 0,
    redirects: 0,
    retries: 0,
    lostTasks: 0,
    snapshotRemovals: 0,
    failovers: [],
    durationMs: 0,
    latenciesMs: [],
  };
  /** Per image (node clients): the volume chain the clients were told exists, base first. */
  readonly chains = new Map<string, string[]>();
  /** Engine disks that must exist at the end. */
  readonly disks = new Set<string>();
  /** Per engine VM: its disk and the snapshot descriptions made (the client's key for a retry). */
  readonly vms = new Map<string, { disk: string; snapshots: string[] }>();
  private readonly rand: () => number;
  private knownSpm: Host | undefined;
  private stopAll = false;
  private chaosDone = false;
  /** Requests not yet done, with their attempts and the last outcome: what a stuck run names. */
  private readonly inflight = new Map<string, { since: number; attempts: number; last: string }>();

  constructor(
    readonly c: Cluster,
    readonly o: ChaosOptions,
  ) {
    this.rand = prng(o.seed);
  }

  private pick<T>(xs: T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private usable(): Host[] {
    return this.c.hosts.filter((h) => h.alive && !h.frozen);
  }

  /** Asks the hosts who is SPM (waiting out a failover). */
  async findSpm(timeoutMs = 120_000): Promise<Host> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const h of this.usable()) {
        const st = await withTimeout(this.c.spmStatus(h), 3000).catch(() => undefined);
        if (st?.spmStatus === "SPM") return h;
      }
      if (Date.now() > deadline) throw new Error(`no SPM for ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  private async waitTaskOn(h: Host, taskID: string): Promise<{ taskResult: string } | undefined> {
    const deadline = Date.now() + 20_000;
    let unsettledSince = 0;
    while (Date.now() < deadline) {
      const st = (await withTimeout(h.node.json("Task.getStatus", { taskID }), 5000)) as { taskState: string; taskResult: string };
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

  /** One node-level request, retried until it is done: the client side of idempotency. */
  private async performNode(op: NodeOp): Promise<void> {
    const c = this.c;
    let reachedSpm = false;
    for (let attempt = 0; attempt < 600; attempt++) {
      if (this.stopAll) throw new Error("stopped: another request failed");
      // First try through a host that is not the SPM, as a client that does not know it would.
      const nonSpm = this.usable().filter((h) => h !== this.knownSpm);
      const entry =
        attempt === 0 ? this.pick(nonSpm.length ? nonSpm : this.usable()) : this.knownSpm && this.usable().includes(this.knownSpm) ? this.knownSpm : this.pick(this.usable());
      if (!entry) {
        await sleep(200);
        continue;
      }
      if (attempt > 0) this.stats.retries++;
      try {
        this.stats.sent++;
        const verb = op.kind === "delete" ? "Volume.delete" : "Volume.create";
        const params =
          op.kind === "delete"
            ? { storagedomainID: c.sdUUID, storagepoolID: c.spUUID, imageID: op.img, volumeID: [op.vol], postZero: false, force: false }
            : createParams(c, op.img, op.vol, op.parent);
        const taskID = (await withTimeout(entry.node.json(verb, params), 5000)) as string;
        reachedSpm = true;
        const st = await this.waitTaskOn(entry, taskID).catch(() => undefined);
        this.note(`${op.kind} ${op.vol}`, `host ${entry.hostID} task ${taskID}: ${st ? st.taskResult : "not settled"}`);
        if (st?.taskResult === "success") return;
        if (st === undefined) this.stats.lostTasks++;
        await sleep(200);
      } catch (err) {
        this.note(`${op.kind} ${op.vol}`, `host ${entry.hostID}: ${String(err)}`);
        // 654: not SPM; 309: an agent just restarted that has not reconnected the pool yet.
        if (err instanceof RpcError && (err.code === 654 || err.code === 309)) {
          this.stats.redirects++;
          this.knownSpm = await this.findSpm();
          continue;
        }
        // A delete whose earlier attempt ran (its SPM died before we saw the result) finds nothing.
        if (err instanceof RpcError && err.code === 201 && op.kind === "delete" && reachedSpm) return;
        if (err instanceof RpcError) throw new Error(`${op.kind} ${op.vol}: unexpected error ${err.code} ${err.message}`);
        // Network error or timeout: that host died or froze under us; look again.
        reachedSpm = true;
        this.knownSpm = undefined;
        await sleep(300);
      }
    }
    throw new Error(`${op.kind} ${op.vol}: not done after 600 attempts`);
  }

  private async diskStatus(id: string): Promise<string | undefined> {
    const r = await this.c.engine!.rest("GET", `/disks/${id}`, undefined, 10_000);
    if (r.status === 404) return "gone";
    return r.status === 200 ? String(r.json?.status) : undefined;
  }

  /** Engine: add a disk with our id until it is ok (an illegal one, made while an SPM died, is removed and added again). */
  private async addDisk(id: string): Promise<void> {
    const eng = this.c.engine!;
    const body = { id, name: `chaos-${id.slice(0, 8)}`, provisioned_size: 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ id: this.c.sdUUID }] } };
    for (let attempt = 0; attempt < 300; attempt++) {
      if (this.stopAll) throw new Error("stopped: another request failed");
      if (attempt > 0) this.stats.retries++;
      this.stats.sent++;
      const r = await eng.rest("POST", "/disks", body).catch(() => undefined);
      this.note(`add disk ${id}`, r ? `HTTP ${r.status} ${r.text.slice(0, 200)}` : "no reply");
      if (r && r.status >= 400 && r.status < 500 && r.status !== 409) throw new Error(`add disk ${id}: HTTP ${r.status} ${r.text}`);
      if (r && (r.status === 201 || (r.status === 409 && /already exists/.test(r.text)))) {
        // Ours (now or from an attempt whose reply was lost): wait for it to settle.
        const st = await until(`disk ${id} settled`, async () => {
          const s = await this.diskStatus(id);
          return s === "locked" ? undefined : s;
        }, 120_000, 200).catch(() => undefined);
        this.note(`add disk ${id}`, `settled as ${st}`);
        if (st === "ok") return;
        if (st === "illegal") await this.removeDisk(id, true);
        continue;
      }
      await sleep(500); // no SPM known to the engine yet, or the engine's call to a dead SPM failed
    }
    throw new Error(`add disk ${id}: not done after 300 attempts`);
  }

  /** Engine: remove a disk until it is gone. */
  private async removeDisk(id: string, retrying = false): Promise<void> {
    const eng = this.c.engine!;
    for (let attempt = 0; attempt < 300; attempt++) {
      if (this.stopAll) throw new Error("stopped: another request failed");
      if (attempt > 0 || retrying) this.stats.retries++;
      this.stats.sent++;
      const r = await eng.rest("DELETE", `/disks/${id}`, undefined, 60_000).catch(() => undefined);
      this.note(`remove disk ${id}`, r ? `HTTP ${r.status} ${r.text.slice(0, 200)}` : "no reply");
      if (r?.status === 200 || (r?.status === 404 && (attempt > 0 || retrying))) return;
      if (r && r.status >= 400 && r.status < 500 && r.status !== 409) throw new Error(`remove disk ${id}: HTTP ${r.status} ${r.text}`);
      await sleep(500);
    }
    throw new Error(`remove disk ${id}: not done after 300 attempts`);
  }

  /** The VM's snapshot with this description, or undefined when there is none. */
  private async snapshotOf(vm: string, description: string): Promise<{ id: string; snapshot_status: string } | undefined> {
    const r = await this.c.engine!.rest("GET", `/vms/${vm}/snapshots`, undefined, 10_000);
    if (r.status !== 200) throw new Error(`snapshots of ${vm}: HTTP ${r.status}`);
    return restItems<{ id: string; description: string; snapshot_status: string }>(r.json, "snapshot").find((x) => x.description === description);
  }

  /** The VM's snapshot with this description: its status, or undefined when there is none. */
  private async snapshotStatus(vm: string, description: string): Promise<string | undefined> {
    return (await this.snapshotOf(vm, description))?.snapshot_status;
  }

  /**
   * Engine: removes a VM snapshot (a cold merge on the SPM), keyed by its description. Before each
   * try the client waits for the snapshot to settle: gone is done (also when an earlier try's
   * merge was finished by a new SPM), ok means the last try was undone and is sent again.
   */
  private async removeVmSnapshot(vm: string, description: string): Promise<void> {
    const eng = this.c.engine!;
    const label = `remove vm snapshot ${description}`;
    for (let attempt = 0; attempt < 300; attempt++) {
      if (this.stopAll) throw new Error("stopped: another request failed");
      if (attempt > 0) this.stats.retries++;
      const snap = await until(`snapshot ${description} settled`, async () => {
        const s = await this.snapshotOf(vm, description);
        return s?.snapshot_status === "locked" ? undefined : (s ?? null);
      }, 120_000, 250).catch(() => undefined);
      this.note(label, `settled as ${snap === undefined ? "unknown" : (snap?.snapshot_status ?? "gone")}`);
      if (snap === null) {
        if (attempt === 0) throw new Error(`${label}: no such snapshot`);
        return;
      }
      if (snap === undefined || snap.snapshot_status !== "ok") {
        await sleep(500);
        continue;
      }
      this.stats.sent++;
      const r = await eng.rest("DELETE", `/vms/${vm}/snapshots/${snap.id}`, undefined, 60_000).catch(() => undefined);
      this.note(label, r ? `HTTP ${r.status} ${r.text.slice(0, 200)}` : "no reply");
      if (r && r.status >= 400 && r.status < 500 && r.status !== 409) throw new Error(`${label}: HTTP ${r.status} ${r.text}`);
      if (!r || r.status >= 300) await sleep(500);
    }
    throw new Error(`${label}: not done after 300 attempts`);
  }

  /**
   * Engine: a VM snapshot, keyed by its description (the engine chooses snapshot ids): before each
   * retry the client looks for its snapshot, so a create whose reply was lost is not made twice;
   * one the engine rolled back (its SPM died) is gone, and is asked for again.
   */
  private async snapshotVm(vm: string, description: string): Promise<void> {
    const eng = this.c.engine!;
    for (let attempt = 0; attempt < 300; attempt++) {
      if (this.stopAll) throw new Error("stopped: another request failed");
      if (attempt > 0) {
        this.stats.retries++;
        const st = await until(`snapshot ${description} settled`, async () => {
          const s = await this.snapshotStatus(vm, description);
          return s === "locked" ? undefined : (s ?? "none");
        }, 120_000, 250).catch(() => "unknown");
        this.note(`vm snapshot ${description}`, `settled as ${st}`);
        if (st === "ok") return;
        if (st !== "none") {
          await sleep(500);
          continue;
        }
      }
      this.stats.sent++;
      const r = await eng.rest("POST", `/vms/${vm}/snapshots`, { description }).catch(() => undefined);
      this.note(`vm snapshot ${description}`, r ? `HTTP ${r.status} ${r.text.slice(0, 200)}` : "no reply");
      if (r && r.status >= 400 && r.status < 500 && r.status !== 409) throw new Error(`snapshot ${description}: HTTP ${r.status} ${r.text}`);
      if (!r || r.status >= 300) await sleep(500);
    }
    throw new Error(`snapshot ${description}: not done after 300 attempts`);
  }

  /** Engine: a VM with one disk of its own (the disk made as any other). */
  private async newVm(): Promise<string> {
    const eng = this.c.engine!;
    const disk = randomUUID();
    await this.addDisk(disk);
    this.disks.add(disk);
    const vm = await eng.rest("POST", "/vms", { name: `chaos-${disk.slice(0, 8)}`, cluster: { name: "Default" }, template: { name: "Blank" } });
    if (vm.status !== 201) throw new Error(`VM: HTTP ${vm.status} ${vm.text}`);
    const id = String(vm.json?.id);
    const att = await eng.rest("POST", `/vms/${id}/diskattachments`, { disk: { id: disk }, interface: "virtio", bootable: true, active: true });
    if (att.status !== 201) throw new Error(`attach: HTTP ${att.status} ${att.text}`);
    this.vms.set(id, { disk, snapshots: [] });
    return id;
  }

  private async timed(label: string, what: () => Promise<void>): Promise<void> {
    const t = performance.now();
    this.stats.requests++;
    this.inflight.set(label, { since: Date.now(), attempts: 0, last: "" });
    try {
      await what();
    } finally {
      this.inflight.delete(label);
    }
    this.stats.latenciesMs.push(performance.now() - t);
  }

  /** Records one attempt of an in-flight request and how it ended. */
  private note(label: string, outcome: string): void {
    const e = this.inflight.get(label);
    if (!e) return;
    e.attempts++;
    e.last = outcome;
  }

  /** The requests still in flight, oldest first, for a failure message. */
  pending(): string {
    const now = Date.now();
    return [...this.inflight]
      .sort((a, b) => a[1].since - b[1].since)
      .map(([label, e]) => `${label}: ${Math.round((now - e.since) / 1000)} s, ${e.attempts} attempts, last: ${e.last}`)
      .join("\n");
  }

  /** Makes every worker give up at its next attempt (the run failed or timed out). */
  abort(): void {
    this.stopAll = true;
  }

  private pause(): Promise<void> {
    return sleep(this.chaosDone ? 20 : 300 + this.rand() * 1500);
  }

  private async nodeWorker(budget: () => boolean): Promise<void> {
    const img = randomUUID();
    const base = randomUUID();
    if (!budget()) return;
    this.stats.nodeRequests++;
    await this.timed(`create ${base}`, () => this.performNode({ kind: "create", img, vol: base }));
    this.chains.set(img, [base]);
    while (budget()) {
      this.stats.nodeRequests++;
      const chain = this.chains.get(img)!;
      if (chain.length > 1 && this.rand() < 0.4) {
        await this.timed(`delete ${chain.at(-1)!}`, () => this.performNode({ kind: "delete", img, vol: chain.at(-1)! }));
        chain.pop();
      } else {
        const vol = randomUUID();
        await this.timed(`snapshot ${vol}`, () => this.performNode({ kind: "snapshot", img, vol, parent: chain.at(-1)! }));
        chain.push(vol);
      }
      await this.pause();
    }
  }

  private async engineWorker(budget: () => boolean): Promise<void> {
    const mine: string[] = [];
    let vm: string | undefined;
    while (budget()) {
      this.stats.engineRequests++;
      const snaps = vm ? this.vms.get(vm)!.snapshots : [];
      if (this.o.vmSnapshots && vm && snaps.length && this.rand() < 0.15) {
        const description = snaps[Math.floor(this.rand() * snaps.length)]!;
        await this.timed(`remove vm snapshot ${description}`, () => this.removeVmSnapshot(vm!, description));
        snaps.splice(snaps.indexOf(description), 1);
        this.stats.snapshotRemovals++;
      } else if (this.o.vmSnapshots && this.rand() < 0.3) {
        vm ??= await this.newVm();
        const description = `chaos snapshot ${randomUUID()}`;
        await this.timed(`vm snapshot ${description}`, () => this.snapshotVm(vm!, description));
        this.vms.get(vm)!.snapshots.push(description);
      } else if (mine.length && this.rand() < 0.4) {
        const id = mine.splice(Math.floor(this.rand() * mine.length), 1)[0]!;
        await this.timed(`remove disk ${id}`, () => this.removeDisk(id));
        this.disks.delete(id);
      } else {
        const id = randomUUID();
        await this.timed(`add disk ${id}`, () => this.addDisk(id));
        mine.push(id);
        this.disks.add(id);
      }
      await this.pause();
    }
  }

  private async chaos(t0: number): Promise<void> {
    const c = this.c;
    for (const kind of this.o.events) {
      await sleep(1000 + this.rand() * 3000);
      const spm = await this.findSpm();
      const at = Date.now() - t0;
      this.o.log?.(`chaos: t=${at} ms ${kind} of SPM host ${spm.hostID}`);
      if (kind === "kill") await c.kill(spm);
      else c.freeze(spm);
      const next = await c.waitSpm(120_000, spm).catch(async (err: Error) => {
        throw new Error(`${err.message} after the ${kind} of host ${spm.hostID}; hosts say:\n${await this.diagnose()}`);
      });
      const ms = Date.now() - t0 - at;
      this.stats.failovers.push({ kind, host: spm.hostID, next: next.hostID, ms });
      this.o.log?.(`chaos: t=${at} ms ${kind === "kill" ? "kill -9" : "SIGSTOP"} SPM host ${spm.hostID}; host ${next.hostID} SPM after ${ms} ms`);
      if (kind === "kill") await c.restart(spm);
      else {
        await sleep(this.rand() * 2000);
        c.thaw(spm);
      }
    }
    this.chaosDone = true;
  }

  /**
   * After the run: exactly one SPM; the on-disk checker (qemu-img included) finds nothing wrong;
   * the images on disk are exactly the clients' images and engine disks (none lost, duplicated
   * or half-made); each image's volumes and chain are what its client was told; the engine lists
   * exactly the disks that must exist, all ok; no write by a superseded SPM in the audit log.
   * Returns the final SPM's host id and LVER.
   */
  async verify(): Promise<{ spm: number; lver: number; volumes: number }> {
    const c = this.c;
    const spm = await c.waitSpm(120_000);
    assert.equal((await c.spms()).length, 1);
    const report = await checkFileDomain(c.domainDir);
    assert.deepEqual(report.problems, [], "on-disk checker");
    const images = readdirSync(join(c.domainDir, "images")).sort();
    assert.deepEqual(images, [...this.chains.keys(), ...this.disks].sort(), "images on disk = images made (none lost, none half-made, none left)");
    for (const [img, chain] of this.chains) {
      const vols = report.volumes.filter((v) => v.image === img);
      assert.deepEqual(vols.map((v) => v.volume).sort(), [...chain].sort(), `volumes of ${img}`);
      const leaf = vols.find((v) => v.md.VOLTYPE === "LEAF");
      assert.deepEqual(leaf?.chain, [...chain].reverse(), `chain of ${img}`);
    }
    const snapsOf = new Map([...this.vms.values()].map((v) => [v.disk, v.snapshots.length]));
    for (const d of this.disks) {
      assert.equal(report.volumes.filter((v) => v.image === d).length, 1 + (snapsOf.get(d) ?? 0), `engine disk ${d}: one volume, one more per VM snapshot`);
    }
    const eng = c.engine;
    if (eng) {
      const listed = restItems<{ id: string; status: string }>((await eng.rest("GET", "/disks")).json, "disk");
      assert.deepEqual(listed.map((d) => d.id).sort(), [...this.disks].sort(), "the engine lists exactly the disks made");
      assert.deepEqual(listed.filter((d) => d.status !== "ok"), [], "every engine disk is ok");
      for (const [vm, v] of this.vms) {
        type Snap = { description: string; snapshot_status: string; snapshot_type: string };
        const reply: RestReply = await eng.rest("GET", `/vms/${vm}/snapshots`);
        const regular: Snap[] = restItems<Snap>(reply.json, "snapshot").filter((x) => x.snapshot_type !== "active");
        assert.deepEqual(regular.map((x) => x.description).sort(), [...v.snapshots].sort(), `VM ${vm}: each snapshot once`);
        assert.deepEqual(regular.filter((x) => x.snapshot_status !== "ok"), [], `VM ${vm}: every snapshot ok`);
      }
    }
    let top = -1;
    for (const e of readAudit(c.masterDir)) {
      assert.ok(e.lver >= top, `stale write by host ${e.host} with LVER ${e.lver} after LVER ${top} took over: ${e.op} ${e.path}`);
      top = Math.max(top, e.lver);
    }
    return { spm: spm.hostID, lver: top, volumes: report.volumes.length };
  }

  /** What each reachable host says about the pool (role, election, standby, lease), for a failure message. */
  async diagnose(): Promise<string> {
    const out: string[] = [];
    for (const h of this.usable()) {
      const st = await withTimeout(this.c.hostsStatus(h), 3000).catch((err) => ({ error: String(err) }));
      const { hosts: _hosts, ...rest } = st as Record<string, unknown>;
      out.push(`host ${h.hostID}: ${JSON.stringify(rest)}`);
    }
    return out.join("\n");
  }

  /**
   * Runs the workload and the failures to the end; throws on the first request that cannot be
   * done, or, past `deadlineMs`, with the requests still in flight and what the hosts say.
   */
  async run(deadlineMs?: number): Promise<ChaosStats> {
    const o = this.o;
    const engineShare = this.c.engine ? (o.engineShare ?? 0.3) : 0;
    const engineBudget = Math.round(o.requests * engineShare);
    const nodeBudget = o.requests - engineBudget;
    let nodeIssued = 0;
    let engineIssued = 0;
    this.knownSpm = await this.c.waitSpm(60_000);
    const t0 = Date.now();
    const workers = [
      this.chaos(t0),
      ...Array.from({ length: o.nodeWorkers }, () => this.nodeWorker(() => ++nodeIssued <= nodeBudget)),
      ...Array.from({ length: engineBudget ? (o.engineWorkers ?? 2) : 0 }, () => this.engineWorker(() => ++engineIssued <= engineBudget)),
    ];
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      if (deadlineMs === undefined) return;
      timer = setTimeout(() => {
        void this.diagnose().then((hosts) =>
          reject(new Error(`chaos not done after ${deadlineMs} ms; in flight:\n${this.pending()}\nhosts say:\n${hosts}`)),
        );
      }, deadlineMs);
    });
    await Promise.race([Promise.all(workers), watchdog])
      .catch((err) => {
        this.stopAll = true;
        throw err;
      })
      .finally(() => clearTimeout(timer));
    this.stats.durationMs = Date.now() - t0;
    return this.stats;
  }
}
