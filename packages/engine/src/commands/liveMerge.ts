/**
 * The live part of RemoveSnapshot: a disk the running VM has open is merged by the VM's host
 * (VM.merge: QEMU commits the snapshot's child into the snapshot's volume while the guest runs),
 * and the engine follows the node's job in VM.getStats `vmJobs` until it is done or failed. The
 * merged-away volume is then deleted through the SPM, as oVirt does after a live merge.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Host, Image, Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { engineStep } from "../jobs/jobs.js";
import type { DiskCtx } from "./snapshotSteps.js";

const POLL_MS = 300;

/** Disks the VM has open now (plugged attachments): those merge live. */
export async function openDisks(e: Engine, vmId: string): Promise<Set<string>> {
  const rows = await e.db.selectFrom("disk_attachments").select("disk_id").where("vm_id", "=", vmId).where("active", "!=", 0).execute();
  return new Set(rows.map((r) => r.disk_id));
}

/** Starts the merge of `top` into `c.vol` on the VM's host and waits for its job, as one step. */
export async function mergeLive(e: Engine, jobId: string, vm: Vm, host: Host, c: DiskCtx & { vol: Image }, top: Image): Promise<void> {
  const client = e.nodes.for(host);
  const jobUUID = randomUUID();
  await engineStep(e, jobId, "executing", `Merging volume ${top.id} into ${c.vol.id} of disk ${c.disk.alias} on the running VM ${vm.name} (host ${host.name})`, async () => {
    const drive = { poolID: c.dc.id, domainID: c.disk.storage_domain_id, imageID: c.disk.id, volumeID: c.disk.image_id };
    try {
      await client.call("merge", { vmId: vm.id, drive, baseVolUUID: c.vol.id, topVolUUID: top.id, bandwidth: 0, jobUUID });
      await jobEnd(client, vm, host, jobUUID);
    } catch (err) {
      // An active-layer merge whose drive already runs on the base is done, whatever the job's
      // answer said (lost, the agent restarted, storage lagging): undoing it would lose the
      // guest's writes since the pivot. The child is deleted next, which makes base the leaf.
      if (top.id !== c.disk.image_id || !(await runsOn(client, vm, c.disk.id, c.vol.id))) throw err;
      e.log.warn({ err, vm: vm.name, disk: c.disk.id, base: c.vol.id, top: top.id }, "the live merge did not report success, but the VM runs on the base: done");
    }
  });
}

type NodeClient = ReturnType<Engine["nodes"]["for"]>;

/** Polls the VM's stats until the merge job is done (or throws why it is not). */
async function jobEnd(client: NodeClient, vm: Vm, host: Host, jobUUID: string): Promise<void> {
  for (;;) {
    await sleep(POLL_MS);
    const stats = await client.call("getVmStats", { vmId: vm.id });
    const job = stats[0]?.vmJobs?.[jobUUID];
    if (!job) throw new Error(`host ${host.name} no longer knows merge job ${jobUUID} (the agent restarted?)`);
    if (job.status === "failed") throw new Error(`the live merge failed on host ${host.name}: ${job.error ?? "no reason given"}`);
    if (job.status === "done") return;
  }
}

/** Whether the VM's host says the disk's drive runs on `volumeID` now. */
async function runsOn(client: NodeClient, vm: Vm, diskId: string, volumeID: string): Promise<boolean> {
  const stats = await client.call("getVmStats", { vmId: vm.id }).catch(() => undefined);
  return Object.values(stats?.[0]?.disks ?? {}).some((d) => d.imageID === diskId && d.volumeID === volumeID);
}
