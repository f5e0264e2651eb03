/**
 * Starts the monitors (hosts, VMs) as timers and recovers jobs a restart interrupted. Loaded after
 * the engine reported ready. A monitor tick never overlaps itself and never throws out of its timer.
 */
import { finishAddDisk } from "../commands/AddDisk.js";
import { resumeSnapshotJob } from "../commands/recoverSnapshots.js";
import type { Engine } from "../engine.js";
import { endJob } from "../jobs/jobs.js";
import { HostMonitor } from "./hosts.js";
import { VmMonitor } from "./vms.js";

function every(e: Engine, name: string, ms: number, fn: () => Promise<void>): () => void {
  let running = false;
  const t = setInterval(() => {
    if (running || e.bg.stopping) return;
    running = true;
    fn()
      .catch((err: unknown) => e.log.error({ err, monitor: name }, "monitor tick failed"))
      .finally(() => {
        running = false;
      });
  }, ms);
  return () => clearInterval(t);
}

export function startMonitors(e: Engine): { stop(): void } {
  const hosts = new HostMonitor(e);
  const vms = new VmMonitor(e);
  const stops = [every(e, "hosts", e.cfg.hostPollMs, () => hosts.tick()), every(e, "vms", e.cfg.vmPollMs, () => vms.tick())];
  // First look at once rather than after a full interval.
  e.bg.run("first host poll", () => hosts.tick());
  return {
    stop: () => {
      for (const s of stops) s();
    },
  };
}

/** Jobs left `started` by a previous run: finish the ones that wait on a node task, fail the rest. */
export async function recoverJobs(e: Engine): Promise<void> {
  const open = await e.db.selectFrom("jobs").selectAll().where("status", "=", "started").execute();
  for (const job of open) {
    // Preview, commit, undo and restore are finished (or rolled back) from what they recorded.
    if (resumeSnapshotJob(e, job)) continue;
    if (job.action_type === "add Disk") {
      const payload = JSON.parse(job.payload) as { diskId?: string; dcId?: string; stepId?: string };
      const step = payload.stepId ? await e.db.selectFrom("steps").selectAll().where("id", "=", payload.stepId).executeTakeFirst() : undefined;
      const host = step?.host_id ? await e.db.selectFrom("hosts").selectAll().where("id", "=", step.host_id).executeTakeFirst() : undefined;
      if (payload.diskId && payload.dcId && step?.task_id && host) {
        const a = { diskId: payload.diskId, dcId: payload.dcId, stepId: step.id, taskId: step.task_id, host };
        const release = e.locks.acquire([`disk:${payload.diskId}`], "add Disk");
        e.bg.run(`recover add disk ${payload.diskId}`, async () => {
          try {
            const ok = await finishAddDisk(e, a);
            await endJob(e, job.id, ok ? "finished" : "failed");
          } finally {
            release();
          }
        });
        e.log.info({ job: job.id, disk: payload.diskId }, "resuming disk creation after restart");
        continue;
      }
      if (payload.diskId) await e.db.updateTable("disks").set({ status: "illegal" }).where("id", "=", payload.diskId).where("status", "=", "locked").execute();
    }
    await endJob(e, job.id, "failed");
    e.log.warn({ job: job.id, description: job.description }, "job interrupted by an engine restart");
  }
  await unlockInterrupted(e);
}

/**
 * Entities a long job (copy, move, snapshot, template, VM from template) left locked when the
 * engine stopped: their node task's outcome is unknown, so disks and templates are marked
 * illegal (an administrator checks and removes them), VMs go back to down and snapshots to ok.
 * Disks still being created by a recovered add-Disk job are left to it.
 */
async function unlockInterrupted(e: Engine): Promise<void> {
  const disks = await e.db.selectFrom("disks").select(["id", "alias"]).where("status", "=", "locked").execute();
  for (const d of disks) {
    if (e.locks.isHeld(`disk:${d.id}`)) continue;
    await e.db.updateTable("disks").set({ status: "illegal" }).where("id", "=", d.id).execute();
    e.log.warn({ disk: d.id, alias: d.alias }, "disk left locked by an interrupted job is now illegal");
  }
  const t = await e.db.updateTable("templates").set({ status: "illegal" }).where("status", "=", "locked").executeTakeFirst();
  // VMs (and their snapshots) whose interrupted job is being resumed keep their state until it ends.
  const resumed = (await e.db.selectFrom("vms").select("id").where("status", "=", "image_locked").execute()).map((r) => r.id).filter((id) => e.locks.isHeld(`vm:${id}`));
  const keep = resumed.length ? resumed : [""];
  const v = await e.db.updateTable("vms").set({ status: "down" }).where("status", "=", "image_locked").where("id", "not in", keep).executeTakeFirst();
  // A locked preview holder records a commit that did not finish (only a commit may follow): kept.
  const s = await e.db
    .updateTable("snapshots")
    .set({ status: "ok" })
    .where("status", "=", "locked")
    .where("type", "!=", "preview")
    .where("vm_id", "not in", keep)
    .executeTakeFirst();
  const n = Number(t.numUpdatedRows) + Number(v.numUpdatedRows) + Number(s.numUpdatedRows);
  if (n) e.log.warn({ templates: Number(t.numUpdatedRows), vms: Number(v.numUpdatedRows), snapshots: Number(s.numUpdatedRows) }, "unlocked entities of interrupted jobs");
}
