/**
 * Live merge of a running VM's drive (VDSM's VM.merge): QEMU's `block-commit` job commits the
 * top volume into its parent while the guest runs. For the active layer the job turns `ready`
 * when both layers hold the same data, and `block-job-complete` switches the device onto the
 * base (the pivot); a lower top ends by itself, and QEMU writes base's name into the header of
 * the overlay above it. Once the job concluded without error, the volume metadata (storage's
 * syncMergedChain) and the VM record (drive volume, path, node names) follow the shorter chain,
 * so statistics, thin watching, teardown and recovery see it; the merged-away volume stays on
 * storage for the engine to delete. A failed job leaves QEMU's graph and the record as they were.
 * The job's state is in VM.getStats `vmJobs` (kept while the VM runs here).
 */
import { basename } from "node:path";
import { type DiskSizeDrive, VdsmError, type VmJob } from "@vela/protocol";
import type { z } from "zod";
import type { ImageService } from "../api/services.js";
import type { Logger } from "../log.js";
import { type QmpClient, QmpError, type QmpNamedNode } from "../qemu/qmp.js";
import { type DriveRecord, writeRecord } from "./rundir.js";
import type { Vm } from "./vm.js";

type Drive = z.infer<typeof DiskSizeDrive>;

export interface MergeRequest {
  drive: Drive;
  base: string;
  top: string;
  /** MiB/s; 0: no limit. */
  bandwidth: number;
  jobId: string;
}

/** Called once the VM's chain changed (the manager restarts its thin-drive watch). */
export type OnChainChanged = (vm: Vm) => Promise<void>;

const FORMAT_DRIVERS = new Set(["qcow2", "raw"]);
/** Finished jobs kept in `vmJobs` per VM (their callers read the outcome within seconds). */
const KEEP_FINISHED = 16;

/** QEMU's id of a merge job: a QEMU id must start with a letter, a UUID may not. */
function qemuJobId(jobUUID: string): string {
  return `merge-${jobUUID}`;
}

/**
 * Test faults (VELA_TEST_FAULTS). `virt.merge.commit`: the block-commit of a lower (not active)
 * volume names a base node that does not exist, so QEMU refuses the job — a merge the host
 * cannot do, nothing changed. `virt.merge.sync`: after an active merge pivoted, the volume
 * metadata update fails — the job fails although the drive already runs on the base.
 */
export const FAULT_COMMIT = "virt.merge.commit";
export const FAULT_SYNC = "virt.merge.sync";

/**
 * The path of a node's own file. A format node whose backing was set apart from its header (the
 * old tops under a live snapshot) has a `json:{…}` pseudo-filename; its `file.filename` is its own.
 */
function ownFile(filename: string): string {
  if (!filename.startsWith("json:")) return filename;
  try {
    const spec = JSON.parse(filename.slice(5)) as { file?: { filename?: unknown } };
    return typeof spec.file?.filename === "string" ? spec.file.filename : filename;
  } catch {
    return filename;
  }
}

/** The format and file nodes of a volume in QEMU's graph, by the volume id its file is named after. */
function nodesOf(nodes: QmpNamedNode[], volumeID: string): { formatNode?: string; fileNode?: string; filename?: string } {
  const mine = nodes.filter((n) => basename(ownFile(n.image.filename)) === volumeID);
  const format = mine.find((n) => FORMAT_DRIVERS.has(n.drv));
  const file = mine.find((n) => !FORMAT_DRIVERS.has(n.drv));
  return { formatNode: format?.["node-name"], fileNode: file?.["node-name"], filename: file?.image.filename };
}

/** Checks the request against the running VM and storage, then starts the job; answers once QEMU took it. */
export async function startMerge(images: ImageService, vm: Vm, qmp: QmpClient, req: MergeRequest, log: Logger, faults: ReadonlySet<string>, changed: OnChainChanged): Promise<void> {
  const index = vm.rec.drives.findIndex((d) => d.domainID === req.drive.domainID && d.imageID === req.drive.imageID);
  if (index < 0) throw new VdsmError("mergeErr", `image ${req.drive.imageID} of domain ${req.drive.domainID} is not a drive of VM ${vm.id}`);
  const rec = vm.rec.drives[index] as DriveRecord;
  if (rec.volumeID !== req.drive.volumeID) throw new VdsmError("mergeErr", `drive ${rec.name} runs on volume ${rec.volumeID}, not ${req.drive.volumeID}`);
  if (req.base === req.top) throw new VdsmError("InvalidParameter", "base and top are the same volume");
  if (vm.jobs.has(req.jobId)) throw new VdsmError("mergeErr", `job ${req.jobId} exists already`);
  const busy = [...vm.jobs.values()].find((j) => j.imgUUID === req.drive.imageID && (j.status === "running" || j.status === "ready"));
  if (busy) throw new VdsmError("mergeErr", `drive ${rec.name} has a merge under way (job ${busy.id})`);
  if (!images.checkLiveMerge || !images.syncMergedChain) throw new VdsmError("noimpl", "this node's storage cannot merge live");
  await images.checkLiveMerge(req.drive, req.base, req.top);
  const nodes = await qmp.queryNamedBlockNodes();
  const base = nodesOf(nodes, req.base);
  const top = nodesOf(nodes, req.top);
  if (!base.formatNode || !top.formatNode) {
    const seen = nodes.slice(0, 12).map((n) => `${n["node-name"]}:${n.drv}:${basename(ownFile(n.image.filename))}`);
    throw new VdsmError("mergeErr", `volumes ${req.base} and ${req.top} are not both in the drive's graph (nodes: ${seen.join(" ")})`);
  }
  const active = req.top === rec.volumeID;
  const job: VmJob = {
    id: req.jobId,
    jobType: "block",
    blockJobType: "commit",
    drive: rec.name,
    imgUUID: req.drive.imageID,
    baseVolUUID: req.base,
    topVolUUID: req.top,
    bandwidth: req.bandwidth,
    cur: "0",
    end: "0",
    status: "running",
  };
  const watch = new MergeWatch(images, vm, qmp, job, index, active, base as Required<typeof base>, top, log, changed, faults.has(FAULT_SYNC));
  qmp.on("JOB_STATUS_CHANGE", watch.onStatus);
  try {
    await qmp.blockCommit({
      jobId: qemuJobId(req.jobId),
      device: rec.formatNode,
      base: faults.has(FAULT_COMMIT) && !active ? "vela-test-fault" : base.formatNode,
      top: top.formatNode,
      // The header keeps VDSM's relative name of the base (the volume id), not QEMU's path.
      ...(active ? {} : { backingFile: req.base }),
      speed: req.bandwidth * 2 ** 20,
    });
  } catch (e) {
    qmp.off("JOB_STATUS_CHANGE", watch.onStatus);
    throw new VdsmError("mergeErr", `QEMU refused the merge: ${e instanceof QmpError ? e.desc : (e as Error).message}`, { cause: e });
  }
  vm.jobs.set(job.id, job);
  // Finished jobs stay readable for a while; the oldest of them go once there are many.
  const finished = [...vm.jobs.values()].filter((j) => j.status === "done" || j.status === "failed");
  for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) vm.jobs.delete(j.id);
  void qmp.closed.then(() => watch.fail("the VM's monitor closed during the merge"));
  log.info({ vmId: vm.id, job: job.id, drive: rec.name, base: req.base, top: req.top, active }, "live merge started");
}

/** Follows one block-commit job to its end and makes the record follow a successful one. */
class MergeWatch {
  private ended = false;

  constructor(
    private readonly images: ImageService,
    private readonly vm: Vm,
    private readonly qmp: QmpClient,
    private readonly job: VmJob,
    private readonly index: number,
    private readonly active: boolean,
    private readonly base: { formatNode: string; fileNode?: string; filename: string },
    private readonly top: { formatNode?: string; fileNode?: string },
    private readonly log: Logger,
    private readonly changed: OnChainChanged,
    private readonly syncFault: boolean,
  ) {}

  readonly onStatus = (data: { id: string; status: string }): void => {
    if (data.id !== qemuJobId(this.job.id) || this.ended) return;
    if (data.status === "ready") {
      this.job.status = "ready";
      void this.progress();
      this.qmp.blockJobComplete(qemuJobId(this.job.id)).catch((e: unknown) => this.fail(`block-job-complete: ${String(e)}`));
    } else if (data.status === "concluded") void this.conclude();
  };

  private async progress(): Promise<{ error?: string } | undefined> {
    const info = (await this.qmp.queryJobs().catch(() => [])).find((j) => j.id === qemuJobId(this.job.id));
    if (info) {
      this.job.cur = String(info["current-progress"]);
      this.job.end = String(info["total-progress"]);
    }
    return info;
  }

  private async conclude(): Promise<void> {
    const info = await this.progress();
    await this.qmp.jobDismiss(qemuJobId(this.job.id)).catch((e: unknown) => this.log.warn({ job: this.job.id, err: String(e) }, "cannot dismiss the concluded merge job"));
    if (!info) return this.fail("the job vanished from query-jobs");
    if (info.error) return this.fail(info.error);
    // QEMU's graph no longer has top in the chain, whatever happens to storage next.
    await this.dropTopNodes();
    try {
      await this.follow();
    } catch (e) {
      return this.fail(`the merge is done in QEMU but the chain could not follow: ${(e as Error).message}`);
    }
    this.ended = true;
    this.qmp.off("JOB_STATUS_CHANGE", this.onStatus);
    this.job.status = "done";
    this.log.info({ vmId: this.vm.id, job: this.job.id }, "live merge done");
  }

  /**
   * The record first when the drive pivoted (it says what QEMU runs now, whatever storage does
   * next: the engine reads it to see an active merge done), then the volume metadata.
   */
  private async follow(): Promise<void> {
    const rec = this.vm.rec.drives[this.index] as DriveRecord;
    const drive = { domainID: rec.domainID, imageID: rec.imageID, volumeID: rec.volumeID };
    if (this.active) {
      // The device now stands on base's nodes; the record names them, so thin watching and statistics follow.
      this.vm.rec.drives[this.index] = { ...rec, volumeID: this.job.baseVolUUID, path: this.base.filename, formatNode: this.base.formatNode, fileNode: this.base.fileNode ?? rec.fileNode };
      const spec = this.vm.rec.params.drives[this.index];
      if (spec) spec.volumeID = this.job.baseVolUUID;
      await writeRecord(this.vm.paths, this.vm.rec);
      await this.changed(this.vm);
    }
    if (this.syncFault) throw new Error(`test fault ${FAULT_SYNC}`);
    await this.images.syncMergedChain?.(drive, this.job.baseVolUUID, this.job.topVolUUID);
  }

  /**
   * Top's nodes leave the graph: those blockdev-add made (a live snapshot's tops, the drive's
   * first nodes) stay open until deleted, holding the volume the engine deletes next. Nodes QEMU
   * opened itself (backing files) went with the job; deleting them is refused, which is fine.
   */
  private async dropTopNodes(): Promise<void> {
    for (const node of [this.top.formatNode, this.top.fileNode]) {
      if (node) await this.qmp.blockdevDel(node).catch((e: unknown) => this.log.debug({ job: this.job.id, node, err: String(e) }, "merged node not deleted (QEMU's own, or gone)"));
    }
  }

  fail(error: string): void {
    if (this.ended) return;
    this.ended = true;
    this.qmp.off("JOB_STATUS_CHANGE", this.onStatus);
    this.job.status = "failed";
    this.job.error = error;
    this.log.warn({ vmId: this.vm.id, job: this.job.id, error }, "live merge failed");
  }
}
