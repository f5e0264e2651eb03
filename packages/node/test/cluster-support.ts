/**
 * Helpers for the cluster tests and benchmarks: several real vela-node processes sharing one temp
 * directory as a LOCALFS-style file domain (each host "mounts" the same path), one pool with a
 * short lease, and small clients that find the SPM, retry on SpmStatusError and wait for tasks.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NodeProc, RpcError, startNode } from "./harness.js";

export const BLANK = "00000000-0000-0000-0000-000000000000";
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ClusterOptions {
  hosts: number;
  leaseTimeSec?: number;
  renewSec?: number;
  /** Self-election (default on). */
  auto?: boolean;
  /** Per-host SPM priority (index 0 = host id 1). */
  priorities?: number[];
  env?: Record<string, string>;
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
  readonly sdUUID = randomUUID();
  readonly spUUID = randomUUID();
  hosts: Host[] = [];

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
    await this.connectServer(h);
    await this.connectPool(h);
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
    await Promise.all(this.hosts.map((h) => h.node.kill("SIGKILL").catch(() => {})));
  }
}

/**
 * Retries a call that failed at the HTTP level (not with an RPC error): after a SIGCONT the agent
 * closes keep-alive sockets that idled past their timeout while frozen, and a request may have
 * been written to one of them.
 */
export async function retryNet<T>(fn: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RpcError || i >= tries) throw err;
      await sleep(200);
    }
  }
}

export function isRpcError(err: unknown, code?: number): err is RpcError {
  return err instanceof RpcError && (code === undefined || err.code === code);
}

/** A volume-create request in JSON-RPC form. */
export function createParams(c: Cluster, img: string, vol: string, parent?: string): Record<string, unknown> {
  return {
    storagedomainID: c.sdUUID,
    storagepoolID: c.spUUID,
    imageID: img,
    volumeID: vol,
    size: 64 * 2 ** 20,
    volFormat: 4,
    preallocate: 2,
    diskType: "DATA",
    desc: "cluster test",
    srcImgUUID: parent ? img : BLANK,
    srcVolUUID: parent ?? BLANK,
  };
}
