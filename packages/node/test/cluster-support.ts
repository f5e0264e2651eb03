/**
 * A test cluster for the cluster tests and benchmarks: several real vela-node processes sharing one
 * temp directory as a LOCALFS-style file domain (each host "mounts" the same path), one pool with a
 * short lease, and the ways to hurt a host (kill, freeze, restart) and find its SPM. With
 * `engine: true` a real vela-engine process runs too (engine-proc.ts): the nodes register with it
 * and the engine creates the domain and the pool (as `vela up --hosts N` does), so requests can
 * also go through its REST API. Clients of its verbs are in cluster-rpc.ts, the chaos workload in
 * chaos.ts, waiting helpers in wait.ts.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { retryNet } from "./cluster-rpc.js";
import { type EngineProc, REG_TOKEN, restItems, startEngine } from "./engine-proc.js";
import { type NodeProc, startNode } from "./harness.js";
import { sleep, until } from "./wait.js";

export { BLANK };
// The helpers the cluster tests import with the cluster, from their own modules.
export { createParams, isRpcError, retryNet } from "./cluster-rpc.js";
export { type EngineProc, type RestReply, restItems } from "./engine-proc.js";
export { sleep, until, withTimeout } from "./wait.js";

export interface ClusterOptions {
  hosts: number;
  leaseTimeSec?: number;
  renewSec?: number;
  /** Self-election (default on). */
  auto?: boolean;
  /** Per-host SPM priority (index 0 = host id 1). */
  priorities?: number[];
  env?: Record<string, string>;
  /** Run a real engine that builds the pool and takes REST requests. */
  engine?: boolean;
}

export interface Host {
  hostID: number;
  node: NodeProc;
  env: Record<string, string>;
  runDir: string;
  port: number;
  alive: boolean;
  /** Stopped with SIGSTOP: not asked anything (its HTTP server cannot answer). */
  frozen?: boolean;
}

export class Cluster {
  readonly dir: string;
  /** Chosen here, or by the engine in engine mode. */
  sdUUID: string = randomUUID();
  spUUID: string = randomUUID();
  hosts: Host[] = [];
  engine: EngineProc | undefined;

  constructor(readonly opts: ClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "vela-cluster-"));
  }

  get domainDir(): string {
    return join(this.dir, this.sdUUID);
  }
  get masterDir(): string {
    return join(this.domainDir, "master");
  }

  envOf(i: number): Record<string, string> {
    return {
      VELA_LOG_LEVEL: "info",
      VELA_NODE_SPM_AUTO: this.opts.auto === false ? "0" : "1",
      VELA_NODE_SPM_PRIORITY: String(this.opts.priorities?.[i] ?? 5),
      ...this.opts.env,
    };
  }

  async start(): Promise<void> {
    if (this.opts.engine) return this.startWithEngine();
    this.hosts = await Promise.all(
      Array.from({ length: this.opts.hosts }, async (_, i) => {
        const env = this.envOf(i);
        const node = await startNode({ env });
        return { hostID: i + 1, node, env, runDir: node.runDir, port: node.port, alive: true };
      }),
    );
    for (const h of this.hosts) await this.connectServer(h);
    const first = this.hosts[0]!.node;
    await first.json("StorageDomain.create", {
      domainType: 4,
      storagedomainID: this.sdUUID,
      name: "cluster domain",
      typeArgs: this.dir,
      domainClass: 1,
      version: 5,
    });
    await first.json("StoragePool.create", {
      storagepoolID: this.spUUID,
      name: "cluster pool",
      masterSdUUID: this.sdUUID,
      domainList: [this.sdUUID],
      masterVersion: 1,
      lockRenewalIntervalSec: this.opts.renewSec ?? 2,
      leaseTimeSec: this.opts.leaseTimeSec ?? 10,
      ioOpTimeoutSec: 1,
      leaseRetries: 3,
    });
    for (const h of this.hosts) await this.connectPool(h);
  }

  /**
   * Engine mode: the engine first, then the nodes (registering with it by token), then the domain
   * on this directory and the pool, made by the engine through REST; host ids are the engine's.
   */
  private async startWithEngine(): Promise<void> {
    this.engine = await startEngine(mkdtempSync(join(tmpdir(), "vela-cluster-engine-")), {
      VELA_ENGINE_HOST_POLL_MS: "300",
      VELA_ENGINE_VM_POLL_MS: "1000",
      VELA_ENGINE_NODE_TIMEOUT_MS: "5000",
      VELA_ENGINE_LEASE_TIME_SEC: String(this.opts.leaseTimeSec ?? 10),
      VELA_ENGINE_LEASE_RENEW_SEC: String(this.opts.renewSec ?? 2),
    });
    const eng = this.engine;
    this.hosts = [];
    for (let i = 0; i < this.opts.hosts; i++) {
      const env = { ...this.envOf(i), VELA_ENGINE_URL: eng.url, VELA_REGISTRATION_TOKEN: REG_TOKEN, VELA_NODE_NAME: `chost${i + 1}` };
      const node = await startNode({ env });
      this.hosts.push({ hostID: 0, node, env, runDir: node.runDir, port: node.port, alive: true });
    }
    const up = await until("hosts up in the engine", async () => {
      const hs = restItems<{ id: string; name: string; status: string }>((await eng.rest("GET", "/hosts")).json, "host");
      return hs.filter((h) => h.status === "up").length === this.opts.hosts ? hs : undefined;
    });
    const dc = restItems<{ id: string }>((await eng.rest("GET", "/datacenters")).json, "data_center")[0]!;
    const first = up.find((h) => h.name === "chost1")!;
    const sd = await eng.rest("POST", "/storagedomains", { name: "chaos", type: "data", host: { id: first.id }, storage: { type: "localfs", path: this.dir } });
    if (sd.status !== 201) throw new Error(`storage domain: HTTP ${sd.status} ${sd.text}`);
    this.sdUUID = String(sd.json?.id);
    this.spUUID = dc.id;
    const att = await eng.rest("POST", `/datacenters/${dc.id}/storagedomains`, { id: this.sdUUID }, 120_000);
    if (att.status >= 300) throw new Error(`attach: HTTP ${att.status} ${att.text}`);
    for (const h of this.hosts) {
      const st = await until(`host ${h.port} connected to the pool`, async () => (await this.hostsStatus(h).catch(() => undefined)) as { hostId: number } | undefined);
      h.hostID = st.hostId;
    }
  }

  async connectServer(h: Host): Promise<void> {
    await h.node.json("StoragePool.connectStorageServer", {
      domainType: 4,
      storagepoolID: BLANK,
      connectionParams: [{ id: randomUUID(), connection: this.dir }],
    });
  }

  async connectPool(h: Host): Promise<void> {
    await h.node.json("StoragePool.connect", { storagepoolID: this.spUUID, hostID: h.hostID, masterSdUUID: this.sdUUID, masterVersion: 1 });
  }

  /** kill -9 (no cleanup: the lease is left for the others to wait out). */
  async kill(h: Host): Promise<void> {
    h.alive = false;
    await h.node.kill("SIGKILL");
  }

  freeze(h: Host): void {
    h.frozen = true;
    h.node.proc.kill("SIGSTOP");
  }

  thaw(h: Host): void {
    h.node.proc.kill("SIGCONT");
    h.frozen = false;
  }

  /** Starts the host's agent again (same run dir, port and host UUID) and reconnects it. */
  async restart(h: Host): Promise<void> {
    h.node = await startNode({ env: h.env, runDir: h.runDir, port: h.port });
    if (this.engine) {
      // The engine reconnects a host that is up again (connecting it here too would race it).
      await until(`host ${h.hostID} back in the pool`, () => this.hostsStatus(h), 120_000, 250);
    } else {
      await this.connectServer(h);
      await this.connectPool(h);
    }
    h.alive = true;
  }

  async spmStatus(h: Host): Promise<{ spmStatus: string; spmLver: number; spmId: number }> {
    return (await retryNet(() => h.node.json("StoragePool.getSpmStatus", { storagepoolID: this.spUUID }))) as never;
  }

  async hostsStatus(h: Host): Promise<Record<string, unknown>> {
    return (await h.node.json("StoragePool.getHostsStatus", { storagepoolID: this.spUUID })) as never;
  }

  /** The hosts that say they are SPM right now. */
  async spms(): Promise<Host[]> {
    const out: Host[] = [];
    for (const h of this.hosts.filter((x) => x.alive && !x.frozen)) {
      const st = await this.spmStatus(h).catch(() => undefined);
      if (st?.spmStatus === "SPM") out.push(h);
    }
    return out;
  }

  /** Waits until exactly one live host is SPM (and it is not `not`); returns it. */
  async waitSpm(timeoutMs: number, not?: Host): Promise<Host> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.spms();
      if (s.length === 1 && s[0] !== not) return s[0]!;
      if (s.length > 1) throw new Error(`two SPMs at once: hosts ${s.map((h) => h.hostID).join(",")}`);
      if (Date.now() > deadline) throw new Error(`no SPM after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    for (const h of this.hosts) if (h.frozen) this.thaw(h);
    this.engine?.proc.kill("SIGKILL");
    await Promise.all(this.hosts.map((h) => h.node.kill("SIGKILL").catch(() => {})));
  }
}
