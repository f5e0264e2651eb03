/**
 * The parts of the storage subsystem every concept's verbs need (built once by hsm.ts), and the
 * small rules they share: a metadata change needs this host to be the pool's SPM, a domain must
 * belong to the pool it is named with, SPM work runs as a task that knows it is one (the write
 * fence, spm/fence.ts), and an image is locked shared or exclusive for the time of a job. Holds no
 * verb itself: each concept folder has its verbs in its own `verbs.ts`.
 */
import { randomUUID } from "node:crypto";
import { VdsmError } from "@vela/protocol";
import type { NodeContext } from "../api/context.js";
import type { BlockStorage } from "./block/verbs.js";
import type { Connections } from "./domain/connection.js";
import { poolsOf } from "./domain/file.js";
import type { DomainRegistry, StorageDomain } from "./domain/index.js";
import type { DomainMonitor } from "./domain/monitor.js";
import type { Images } from "./image/prepare.js";
import type { ClusterLock } from "./lease/index.js";
import type { Clusters } from "./pool/cluster.js";
import type { ConnectedPool, Pools } from "./pool/pool.js";
import { writerTask } from "./spm/fence.js";
import { KeyedRwLock } from "./sync.js";
import type { TaskManager } from "./task/manager.js";
import { Task } from "./task/task.js";

/** The built parts, as hsm.ts wires them. */
export interface StorageParts {
  /** The node context with the storage logger. */
  ctx: NodeContext;
  conns: Connections;
  domains: DomainRegistry;
  block: BlockStorage;
  lock: ClusterLock;
  tasks: TaskManager;
  pools: Pools;
  clusters: Clusters;
  images: Images;
  monitor: DomainMonitor;
}

export interface StorageDeps extends StorageParts {
  /** The pool's SPM, checked: the pool is connected here and this host holds the role. */
  spmOf(spUUID: string): ConnectedPool;
  /** A domain that belongs to the pool (any driver), with its metadata. */
  poolAnyDomain(sdUUID: string, spUUID: string): Promise<{ dom: StorageDomain; md: Record<string, string> }>;
  /** Starts an SPM task; persistent ones are written to master/tasks for a new SPM to recover. */
  startTask(name: string, job: (t: Task) => Promise<unknown>, persistent?: boolean): string;
  withImageLock<T>(sd: string, img: string, mode: "shared" | "exclusive", fn: () => Promise<T>): Promise<T>;
  /** What connectStoragePool does after connecting (task recovery hook on the new master). */
  connected(p: ConnectedPool): void;
}

export function storageDeps(parts: StorageParts, connected: (p: ConnectedPool) => void): StorageDeps {
  const { domains, pools, tasks } = parts;
  const imageLocks = new KeyedRwLock();
  async function poolAnyDomain(sdUUID: string, spUUID: string): Promise<{ dom: StorageDomain; md: Record<string, string> }> {
    const dom = await domains.get(sdUUID);
    const md = await dom.metadata();
    if (!poolsOf(md).includes(spUUID)) throw new VdsmError("StorageDomainNotInPool", `${sdUUID} is not in ${spUUID}`);
    return { dom, md };
  }
  return {
    ...parts,
    connected,
    spmOf(spUUID) {
      const p = pools.get(spUUID);
      p.spm.assertSpm();
      return p;
    },
    poolAnyDomain,
    startTask(name, job, persistent = true) {
      const id = randomUUID();
      // The job's writes know their task (fence.ts): a task fenced with a lost lease never writes.
      tasks.start(new Task(id, name, "spm", persistent), (t) => writerTask.run(t, () => job(t)));
      return id;
    },
    async withImageLock(sd, img, mode, fn) {
      const release = await imageLocks.acquire(`${sd}/${img}`, mode);
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}
