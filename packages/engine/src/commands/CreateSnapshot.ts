/**
 * Create a VM snapshot (POST /vms/{id}/snapshots): on each chosen disk the leaf is frozen (the
 * node makes it INTERNAL) under a new COW leaf the SPM creates, and the frozen volume belongs to
 * the snapshot. A VM that is down takes it cold. A running (up or paused) VM takes it live, as
 * oVirt does: after the SPM made the new leaves, the VM's host switches the running drives to them
 * at once (the node's VM.snapshot, one QMP transaction); the VM keeps running. Disks the VM does
 * not have open for writing (unplugged or read-only) are taken cold within a live snapshot.
 * Memory state (`persist_memorystate=true`) is refused: Vela takes disk-only snapshots.
 * A job with one step per node task; undone disk by disk if a step fails, the switch included
 * (the new leaves are deleted, unless the node reports the VM already runs on them).
 * Each new leaf consumes its disk's size from the disk's quota (it may grow that far).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { badRequest, conflict, invalid, notFound } from "../errors/fault.js";
import { Bool, ListOf, parseInput, Text, Uuid } from "../input/input.js";
import { type Host, now, type Snapshot, type Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { engineStep } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { activeSnapshot, type DiskCtx, diskCtx, dropVolumes, ensureNoSnapshotBusy, ensureVmQuiet, lockAll, newLeaf, unlockAll } from "./snapshotSteps.js";
import { disksOfVm } from "../db/repo/disks.js";
import { consumeDisks } from "../quotas/consume.js";

/** Statuses in which a VM's QEMU runs steadily enough to switch its drives (oVirt: up or paused). */
const LIVE = new Set(["up", "paused"]);

const CreateInput = z.object({
  description: Text(4000).refine((s) => s.trim().length > 0, "must not be empty"),
  persist_memorystate: Bool.optional(),
  disk_attachments: ListOf("disk_attachment", z.object({ id: Uuid.optional(), disk: z.object({ id: Uuid }).optional() })).optional(),
});

interface CreatePlan {
  vm: Vm;
  snap: Snapshot;
  /** `switch`: the running VM writes to this disk, so its host switches it to the new leaf. */
  disks: (DiskCtx & { vol: string; switch: boolean })[];
  /** The host the VM runs on, for a live snapshot. */
  host?: Host;
}

export const CreateSnapshot: CommandDef<{ vmId: string; body: unknown }, CreatePlan, { snap: Snapshot } & Started> = {
  name: "create Snapshot",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const p = parseInput(CreateInput, body, "Snapshot");
    if (p.persist_memorystate) throw invalid("Cannot create Snapshot: memory state cannot be saved (persist_memorystate); Vela takes disk-only snapshots");
    let host: Host | undefined;
    if (vm.status === "down") await ensureVmQuiet(e, vm, "create Snapshot");
    else if (LIVE.has(vm.status) && vm.run_on_host_id) {
      await ensureNoSnapshotBusy(e, vm, "create Snapshot");
      host = await mustById(e, "hosts", vm.run_on_host_id);
    } else throw conflict(`Cannot create Snapshot: VM ${vm.name} is ${vm.status}; a snapshot is taken of a VM that is down, up or paused`);
    const attached = await disksOfVm(e, vm.id);
    let chosen = attached;
    if (p.disk_attachments) {
      const ids = p.disk_attachments.map((a) => a.disk?.id ?? a.id);
      if (ids.some((i) => i === undefined)) throw badRequest("Snapshot [disk_attachments.disk_attachment.id] required for add");
      chosen = [];
      for (const id of ids) {
        const d = attached.find((x) => x.id === id);
        if (!d) throw notFound(`Disk attachment of VM ${vm.name}`, String(id));
        if (!chosen.includes(d)) chosen.push(d);
      }
    }
    const open = host ? await writableDisks(e, vm.id) : new Set<string>();
    const disks: CreatePlan["disks"] = [];
    for (const d of chosen) disks.push({ ...(await diskCtx(e, d, "create Snapshot")), vol: randomUUID(), switch: open.has(d.id) });
    const snap: Snapshot = { id: randomUUID(), vm_id: vm.id, description: p.description, type: "regular", status: "locked", persist_memorystate: 0, created_at: now() };
    // last: the new leaves count for other checks while the snapshot holds the VM's lock
    const dc = disks[0]?.dc;
    if (dc) await consumeDisks(e, dc, disks.map((d) => d.disk), { what: `create Snapshot of VM ${vm.name}`, vmId: vm.id, until: { lock: `vm:${vm.id}` } });
    return { vm, snap, disks, host };
  },
  describe: (p) => `Creating VM Snapshot '${p.snap.description.slice(0, 100)}' for VM ${p.vm.name}${p.host ? " (live)" : ""}`,
  async execute(e, { vm, snap, disks, host }, x) {
    await activeSnapshot(e, vm.id);
    await e.db.insertInto("snapshots").values(snap).execute();
    x.revert.push("forget the snapshot", () => e.db.deleteFrom("snapshots").where("id", "=", snap.id).execute());
    await lockAll(e, x, vm, disks.map((d) => d.disk), host !== undefined);
    const started = inBackground(e, x, "create Snapshot", async () => {
      for (const c of disks) {
        const leaf = c.disk.image_id;
        await newLeaf(e, x.jobId, c, leaf, c.vol);
        await e.db.insertInto("images").values({ id: c.vol, disk_id: c.disk.id, parent_id: leaf, snapshot_id: null, created_at: now() }).execute();
        await e.db.updateTable("images").set({ snapshot_id: snap.id }).where("id", "=", leaf).execute();
        await e.db.updateTable("disks").set({ image_id: c.vol }).where("id", "=", c.disk.id).execute();
        x.revert.push(`drop the new leaf of ${c.disk.alias}`, async () => {
          await dropVolumes(e, x.jobId, c, [c.vol]);
          await e.db.updateTable("disks").set({ image_id: leaf }).where("id", "=", c.disk.id).execute();
          await e.db.updateTable("images").set({ snapshot_id: null }).where("id", "=", leaf).execute();
          await e.db.deleteFrom("images").where("id", "=", c.vol).execute();
        });
      }
      if (host) await switchDrives(e, x.jobId, vm, host, disks);
      await engineStep(e, x.jobId, "finalizing", "Unlocking the snapshot and the disks", async () => {
        await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute();
        await unlockAll(e, vm, disks.map((d) => d.disk));
      });
    });
    return { snap, ...started };
  },
};

/** Disks the VM has open for writing now: plugged (active) and not read-only. */
async function writableDisks(e: Engine, vmId: string): Promise<Set<string>> {
  const rows = await e.db.selectFrom("disk_attachments").select("disk_id").where("vm_id", "=", vmId).where("active", "!=", 0).where("read_only", "=", 0).execute();
  return new Set(rows.map((r) => r.disk_id));
}

/**
 * The live part: the VM's host switches its running drives to the new leaves (VM.snapshot). If the
 * call fails, the node is asked which volumes the drives run on: an answer lost after the switch
 * must not make the undo delete volumes the VM writes into.
 */
async function switchDrives(e: Engine, jobId: string, vm: Vm, host: Host, disks: CreatePlan["disks"]): Promise<void> {
  const switching = disks.filter((d) => d.switch);
  if (!switching.length) return;
  const snapDrives = switching.map((d) => ({ domainID: d.disk.storage_domain_id, imageID: d.disk.id, volumeID: d.vol, baseVolumeID: d.disk.image_id }));
  const client = e.nodes.for(host);
  await engineStep(e, jobId, "executing", `Switching the running VM ${vm.name} to the new volumes on host ${host.name}`, async () => {
    try {
      await client.call("snapshot", { vmId: vm.id, snapDrives, frozen: false });
    } catch (err) {
      const stats = await client.call("getVmStats", { vmId: vm.id }).catch(() => undefined);
      const running = new Set(Object.values(stats?.[0]?.disks ?? {}).map((d) => d.volumeID));
      if (!switching.every((d) => running.has(d.vol))) throw err;
      e.log.warn({ err, vm: vm.name }, "the live snapshot's answer was lost, but the VM runs on the new volumes");
    }
  });
}
