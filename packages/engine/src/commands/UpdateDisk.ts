/**
 * Update a disk (PUT /disks/{id}, and the `disk` of PUT /vms/{id}/diskattachments/{id}): alias and
 * description, and a larger provisioned_size; shrinking is refused. A disk of a VM that is down
 * is extended by the SPM alone (extendVolumeSize: the image and, on block, its LV); a disk of a
 * running VM live (VDSM's flow): the SPM grows the room (a block LV per VDSM's rules) and the
 * capacity (extendVolumeSize with `live`), then the VM's host refreshes its device and QEMU grows
 * the drive (VM.diskSizeExtend, QMP block_resize): the guest sees the new size at once.
 * The growth is consumed from the disk's quota; `quota` moves the disk to another quota of its
 * data center (quotas/consume.ts).
 */
import { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { Int, Name, parseInput, Text, Uuid } from "../input/input.js";
import { type Disk, type Host, num } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { engineStep, nodeStep } from "../jobs/jobs.js";
import { MAX_DISK_BYTES, volumeDescription } from "./AddDisk.js";
import { ensureNotInPreview, ensureUsable, poolOf, setDiskStatus } from "./chains.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { vmsOfDisk } from "../db/repo/disks.js";
import { consumeStorage, mayConsume, quotaFor, quotaOf } from "../quotas/consume.js";
import { dcOfDomain } from "../quotas/store.js";

const UpdateInput = z.object({
  provisioned_size: Int(1, MAX_DISK_BYTES).optional(),
  name: Name.optional(),
  alias: Name.optional(),
  description: Text(500).optional(),
  // Accepted as oVirt clients send the whole disk back; anything else changing is refused below.
  id: z.string().optional(),
  quota: z.object({ id: Uuid }).optional(),
});

/** VM states with a QEMU whose drive can be grown live (not while it migrates or saves). */
const LIVE = new Set(["up", "paused", "powering_up", "powering_down", "reboot_in_progress"]);

export interface UpdatePlan {
  disk: Disk;
  size?: number;
  /** The running VM using the disk, and its host: a live extension. */
  live?: { vmId: string; vmName: string; host: Host };
  alias?: string;
  description?: string;
  /** The quota the disk moves to. */
  quotaId?: string;
}

export const UpdateDisk: CommandDef<{ id: string; body: unknown }, UpdatePlan, Disk> = {
  name: "update Disk",
  locks: (i) => [`disk:${i.id}`],
  async validate(e, { id, body }) {
    const disk = await mustById(e, "disks", id);
    const p = parseInput(UpdateInput, body, "Disk", "update");
    if (p.id !== undefined && p.id.toLowerCase() !== disk.id) throw invalid("Cannot update Disk: the id cannot change");
    const current = num(disk.provisioned_size);
    const size = p.provisioned_size !== undefined && p.provisioned_size !== current ? p.provisioned_size : undefined;
    if (size !== undefined && size < current) {
      throw invalid(`Cannot update Disk ${disk.alias}: provisioned_size ${size} is smaller than the current ${current}; disks cannot shrink`);
    }
    const alias = p.name ?? p.alias;
    const quota = await quotaChange(e, disk, p.quota?.id, size);
    const quotaId = quota !== undefined && quota !== disk.quota_id ? quota : undefined;
    if (size === undefined && alias === undefined && p.description === undefined) return { disk, quotaId };
    if (disk.template_id) throw conflict(`Cannot update Disk ${disk.alias}: it belongs to a template`);
    ensureUsable(e, disk, "update Disk", true);
    // The preview leaf is not the disk for good: a new size or description there would be lost
    // (or differ from the old branch's) on undo.
    await ensureNotInPreview(e, `${size !== undefined ? "extend" : "update"} Disk ${disk.alias}`, { diskId: disk.id });
    let live: UpdatePlan["live"];
    if (size !== undefined) {
      const users = (await vmsOfDisk(e, disk.id)).filter((v) => v.status !== "down");
      if (users.length > 1) throw conflict(`Cannot extend Disk ${disk.alias}: ${users.length} running VMs use it`);
      const user = users[0];
      if (user) {
        const vm = await mustById(e, "vms", user.id);
        if (!LIVE.has(vm.status) || !vm.run_on_host_id) throw conflict(`Cannot extend Disk ${disk.alias}: VM ${vm.name} using it is ${vm.status}`);
        live = { vmId: vm.id, vmName: vm.name, host: await mustById(e, "hosts", vm.run_on_host_id) };
      }
    }
    return { disk, size, alias, description: p.description, live, quotaId };
  },
  describe: (p) => `Updating Disk ${p.disk.alias}${p.size !== undefined ? ` (extending to ${p.size} bytes${p.live ? `, live on VM ${p.live.vmName}` : ""})` : ""}`,
  async execute(e, { disk, size, alias, description, live, quotaId }, x) {
    if (quotaId !== undefined) {
      await e.db.updateTable("disks").set({ quota_id: quotaId }).where("id", "=", disk.id).execute();
      x.revert.push("restore the disk's quota", async () => {
        await e.db.updateTable("disks").set({ quota_id: disk.quota_id }).where("id", "=", disk.id).execute();
      });
    }
    if (size === undefined && alias === undefined && description === undefined) return { ...disk, quota_id: quotaId ?? disk.quota_id };
    const { dc, spm } = await poolOf(e, disk, "update Disk");
    const client = e.nodes.for(spm);
    let out: Disk = { ...disk, quota_id: quotaId ?? disk.quota_id };
    if (alias !== undefined || description !== undefined) {
      out = { ...out, alias: alias ?? disk.alias, description: description ?? disk.description };
      await engineStep(e, x.jobId, "executing", "Writing the volume description", () =>
        client.call("setVolumeDescription", {
          sdUUID: disk.storage_domain_id,
          spUUID: dc.id,
          imgUUID: disk.id,
          volUUID: disk.image_id,
          description: volumeDescription(out.alias, out.description),
        }),
      );
      await e.db.updateTable("disks").set({ alias: out.alias, description: out.description }).where("id", "=", disk.id).execute();
    }
    if (size !== undefined) {
      await setDiskStatus(e, disk.id, "locked");
      try {
        await nodeStep(e, x.jobId, spm, `Extending volume ${disk.image_id} to ${size} bytes on ${spm.name}`, () =>
          client.call("extendVolumeSize", { spUUID: dc.id, sdUUID: disk.storage_domain_id, imgUUID: disk.id, volUUID: disk.image_id, newSize: size, live: live !== undefined }),
        );
      } catch (err) {
        await setDiskStatus(e, disk.id, disk.status);
        throw err;
      }
      const info = await client.call("getVolumeInfo", { sdUUID: disk.storage_domain_id, spUUID: dc.id, imgUUID: disk.id, volUUID: disk.image_id });
      let cap = Number(info.capacity) || size;
      if (live) {
        try {
          const driveSpecs = { poolID: dc.id, domainID: disk.storage_domain_id, imageID: disk.id, volumeID: disk.image_id };
          const r = await engineStep(e, x.jobId, "executing", `Growing the drive of VM ${live.vmName} to ${cap} bytes on ${live.host.name}`, () =>
            e.nodes.for(live.host).call("diskSizeExtend", { vmId: live.vmId, driveSpecs, newSize: cap }),
          );
          cap = Number(r);
        } catch (err) {
          // The volume is larger, the guest not yet: the same PUT again finishes it.
          await setDiskStatus(e, disk.id, disk.status);
          throw err;
        }
      }
      await e.db.updateTable("disks").set({ provisioned_size: cap, status: disk.status }).where("id", "=", disk.id).execute();
      out = { ...out, provisioned_size: cap };
    }
    return out;
  },
};

/**
 * The quota a disk is to consume from after the update (a quota named in the body, else its own),
 * checked: of the disk's data center, consumable by the user, and with room for the growth.
 * Undefined when the disk lies on no data center's domain (no quota applies).
 */
async function quotaChange(e: Engine, disk: Disk, named: string | undefined, size: number | undefined): Promise<string | undefined> {
  const dcId = await dcOfDomain(e, disk.storage_domain_id);
  if (!dcId) return undefined;
  const dc = await mustById(e, "data_centers", dcId);
  const moved = named !== undefined && named !== disk.quota_id;
  const quota = moved ? await quotaFor(e, dcId, { id: named }, `update Disk ${disk.alias}`) : await quotaOf(e, dcId, disk.quota_id);
  if (!quota) return undefined;
  if (moved) await mayConsume(e, dc, quota, `update Disk ${disk.alias}`);
  const grow = size !== undefined ? size - num(disk.provisioned_size) : 0;
  // moving to another quota consumes the whole disk there; growing, the growth
  const bytes = moved ? num(disk.provisioned_size) + Math.max(grow, 0) : grow;
  if (bytes > 0) await consumeStorage(e, { dc, quota, bytes: new Map([[disk.storage_domain_id, bytes]]), what: `${size !== undefined ? "extend" : "update"} Disk ${disk.alias}`, until: { lock: `disk:${disk.id}` } });
  return quota.id;
}
