/**
 * The SPM role of one connected pool on this host: contend for the cluster lock on the master
 * domain, bump the pool's lease version (LVER) so a stale SPM's writes are recognisable, record
 * POOL_SPM_ID/POOL_SPM_LVER, build master/{vms,tasks}, and keep renewing. Losing the lease drops
 * the role at once (self-fencing). Never lets a metadata verb run unless the role is SPM.
 */
import { VdsmError } from "@vela/protocol";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { NodeContext } from "../api/context.js";
import type { FileDomain } from "./domain/file.js";
import type { ClusterLock, HeldLease, LeaseParams } from "./lease/index.js";
import { MIN_OP_MAX_MS } from "./lease/safelease.js";
import type { Md } from "./metadata.js";
import type { TaskManager } from "./task/manager.js";

export type SpmRole = "Free" | "Contend" | "SPM";

/** Byte offset of the SPM lease record in `dom_md/leases`. */
export const SPM_LEASE_OFFSET = 0;

export function leaseParamsOf(md: Md, path: string): LeaseParams {
  const int = (k: string, d: number) => (/^[0-9]+$/.test(md[k] ?? "") ? Number(md[k]) : d);
  const leaseMs = int("LEASETIMESEC", 60) * 1000;
  return {
    path,
    offset: SPM_LEASE_OFFSET,
    leaseMs,
    opMaxMs: MIN_OP_MAX_MS,
    renewMs: int("LOCKRENEWALINTERVALSEC", 5) * 1000,
  };
}

export interface SpmStatus {
  spmStatus: SpmRole;
  spmLver: number;
  spmId: number;
}

export class Spm {
  role: SpmRole = "Free";
  lver = -1;
  private lease: HeldLease | undefined;
  /** Called after the role is taken and before it is reported (task recovery). */
  onStarted: (() => Promise<void>) | undefined;

  constructor(
    private readonly ctx: NodeContext,
    private readonly lock: ClusterLock,
    readonly spUUID: string,
    readonly hostID: number,
    private readonly master: () => Promise<FileDomain>,
    private readonly tasks: TaskManager,
  ) {}

  get owner(): string {
    return `h${this.hostID}-${this.ctx.config.hostUuid.slice(0, 8)}`;
  }

  isSpm(): boolean {
    return this.role === "SPM";
  }

  assertSpm(): void {
    if (this.role !== "SPM") throw new VdsmError("SpmStatusError", `this host is not the SPM of pool ${this.spUUID} (${this.role})`);
  }

  async status(): Promise<SpmStatus> {
    if (this.role === "SPM") return { spmStatus: "SPM", spmLver: this.lver, spmId: this.hostID };
    const md = await (await this.master()).metadata();
    const int = (s: string | undefined) => (/^-?[0-9]+$/.test(s ?? "") ? Number(s) : -1);
    return { spmStatus: this.role, spmLver: int(md.POOL_SPM_LVER), spmId: int(md.POOL_SPM_ID) };
  }

  /** Marks the start of contention synchronously, so a second spmStart is refused at once. */
  beginContend(): void {
    if (this.role === "Contend") throw new VdsmError("MiscOperationInProgress", `spm start ${this.spUUID}`);
    this.role = "Contend";
  }

  /** The body of the spmStart task. */
  async start(): Promise<void> {
    let lease: HeldLease | undefined;
    try {
      const master = await this.master();
      const md0 = await master.metadata({ fresh: true });
      lease = await this.lock.acquire(leaseParamsOf(md0, master.leasesPath()), this.owner);
      // Fresh read: the previous SPM may have written until it lost the lease.
      const md = await master.metadata({ fresh: true });
      const old = /^-?[0-9]+$/.test(md.POOL_SPM_LVER ?? "") ? Number(md.POOL_SPM_LVER) : -1;
      const lver = Math.max(old, -1) + 1;
      await master.update({ POOL_SPM_ID: String(this.hostID), POOL_SPM_LVER: String(lver) });
      await mkdir(join(master.masterDir(), "vms"), { recursive: true, mode: 0o755 });
      await mkdir(join(master.masterDir(), "tasks"), { recursive: true, mode: 0o755 });
      this.lver = lver;
      this.lease = lease;
      this.role = "SPM";
      lease.onLost((reason) => this.fence(reason));
      if (this.onStarted) await this.onStarted();
      this.ctx.log.info({ spUUID: this.spUUID, lver, hostID: this.hostID }, "SPM started");
    } catch (err) {
      this.role = "Free";
      this.lease = undefined;
      await lease?.release().catch(() => {});
      if (err instanceof VdsmError) throw err;
      throw new VdsmError("SpmStartError", (err as Error).message, { cause: err });
    }
  }

  /** Lease lost: stop acting as SPM now; running tasks are left for the next SPM. */
  private fence(reason: string): void {
    if (this.role !== "SPM") return;
    this.role = "Free";
    this.lease = undefined;
    for (const t of this.tasks.running()) {
      t.fenced = true;
      t.aborted = true;
    }
    this.ctx.log.error({ spUUID: this.spUUID, reason }, "SPM role dropped: lease lost");
  }

  async stop(force = false): Promise<void> {
    if (this.role === "Free") return;
    if (this.role === "Contend") throw new VdsmError("MiscOperationInProgress", `spm start ${this.spUUID}`);
    const busy = this.tasks.running();
    if (busy.length && !force) throw new VdsmError("SpmStopError", busy.map((t) => t.id).join(","));
    const lease = this.lease;
    try {
      const master = await this.master();
      await master.update({ POOL_SPM_ID: "-1" });
    } finally {
      this.role = "Free";
      this.lease = undefined;
      await lease?.release();
    }
    this.ctx.log.info({ spUUID: this.spUUID }, "SPM stopped");
  }
}
