/**
 * Disk actions beyond add/remove: copy (a new disk, the chain collapsed into one volume by the
 * SPM's copyImage, on any active domain of the same data center), move (the whole chain to
 * another domain by moveImage; the disk keeps its id) and update (PUT: alias/description, and a
 * larger provisioned_size through extendVolumeSize; shrinking is refused). Copy and move answer
 * at once and run as jobs; the disks involved are locked until they end. Template disks and
 * disks of running VMs are refused: Vela does no live storage operations yet.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { Bool, Int, Name, parseInput, Ref, Text } from "../input/input.js";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import { type DataCenter, type Disk, type Host, now, num } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { engineStep, nodeStep } from "../jobs/jobs.js";
import { MAX_DISK_BYTES, volumeDescription } from "./AddDisk.js";
import { inBackground, type Started } from "./background.js";
import { actualSizeOf, ensureNotInPreview, ensureUsable, poolOf, runningUsers, setDiskStatus, templateBaseOf } from "./chains.js";
import type { CommandDef } from "./command.js";
import { activeDomain, byRef, mustById } from "./lookup.js";
import { askStorage, hasImage } from "./storageTruth.js";

const ActionInput = z.object({
  storage_domain: Ref,
  disk: z.object({ name: Name.optional(), alias: Name.optional() }).optional(),
  async: Bool.optional(),
  filter: Bool.optional(),
});

interface MovePlan {
  disk: Disk;
  dc: DataCenter;
  spm: Host;
  target: { id: string; name: string };
}

/** Common checks of copy and move: usable disk, no running VM, target active in the same pool. */
async function plan(e: Engine, diskId: string, body: unknown, what: string): Promise<MovePlan & { p: z.output<typeof ActionInput> }> {
  const disk = await mustById(e, "disks", diskId);
  const p = parseInput(ActionInput, body, "action", what.split(" ")[0]);
  if (disk.template_id) throw conflict(`Cannot ${what}: disk ${disk.alias} belongs to a template`);
  ensureUsable(e, disk, what, true);
  const vm = (await runningUsers(e, disk.id))[0];
  if (vm) throw conflict(`Cannot ${what}: VM ${vm.name} using disk ${disk.alias} is ${vm.status}`);
  await ensureNotInPreview(e, `${what} ${disk.alias}`, { diskId: disk.id });
  const { dc, spm } = await poolOf(e, disk, what);
  const target = await byRef(e, "storage_domains", p.storage_domain);
  const tdc = await activeDomain(e, target, what);
  if (tdc.id !== dc.id) throw conflict(`Cannot ${what}: storage domain ${target.name} is in another data center`);
  return { disk, dc, spm, target, p };
}

/** Volume size on the node, for a progress estimate of a copy (0..100). */
function copyProgress(e: Engine, spm: Host, dcId: string, sdId: string, img: string, vol: string, expected: number) {
  return async (): Promise<number | undefined> => {
    if (expected <= 0) return undefined;
    const r = await e.nodes.for(spm).call("getVolumeSize", { sdUUID: sdId, spUUID: dcId, imgUUID: img, volUUID: vol });
    const n = Number(r.truesize);
    return Number.isFinite(n) ? (100 * n) / expected : undefined;
  };
}

export const CopyDisk: CommandDef<{ id: string; body: unknown }, MovePlan & { copy: Disk }, { copy: Disk } & Started> = {
  name: "copy Disk",
  locks: (i) => [`disk:${i.id}`],
  async validate(e, { id, body }) {
    const base = await plan(e, id, body, "copy Disk");
    const alias = base.p.disk?.name ?? base.p.disk?.alias ?? base.disk.alias;
    const copy: Disk = {
      ...base.disk,
      id: randomUUID(),
      image_id: randomUUID(),
      storage_domain_id: base.target.id,
      alias,
      actual_size: 0,
      status: "locked",
      template_id: null,
      created_at: now(),
    };
    return { ...base, copy };
  },
  describe: (p) => `Copying Disk ${p.disk.alias} to domain ${p.target.name}`,
  async execute(e, { disk, dc, spm, copy }, x) {
    await e.db.insertInto("disks").values(copy).execute();
    await e.db.insertInto("images").values({ id: copy.image_id, disk_id: copy.id, parent_id: BLANK_TEMPLATE_ID, snapshot_id: null, created_at: copy.created_at }).execute();
    x.revert.push("forget the copy", async () => {
      await e.db.deleteFrom("images").where("disk_id", "=", copy.id).execute();
      await e.db.deleteFrom("disks").where("id", "=", copy.id).execute();
    });
    await setDiskStatus(e, disk.id, "locked");
    x.revert.push("unlock the source", () => setDiskStatus(e, disk.id, disk.status));
    const started = inBackground(e, x, "copy Disk", async () => {
      const release = e.locks.acquire([`disk:${copy.id}`], "copy Disk");
      try {
        await nodeStep(
          e,
          x.jobId,
          spm,
          `Copying image ${disk.id} to ${copy.id} on ${spm.name}`,
          () =>
            e.nodes.for(spm).call("copyImage", {
              sdUUID: disk.storage_domain_id,
              spUUID: dc.id,
              srcImgUUID: disk.id,
              srcVolUUID: disk.image_id,
              dstImgUUID: copy.id,
              dstVolUUID: copy.image_id,
              description: volumeDescription(copy.alias, copy.description),
              dstSdUUID: copy.storage_domain_id,
              volType: "LEAF",
            }),
          copyProgress(e, spm, dc.id, copy.storage_domain_id, copy.id, copy.image_id, Math.max(num(disk.actual_size), 1)),
        );
        await engineStep(e, x.jobId, "finalizing", "Recording the new disk", async () => {
          const actual = await actualSizeOf(e, spm, dc.id, copy);
          await e.db.updateTable("disks").set({ status: "ok", actual_size: actual }).where("id", "=", copy.id).execute();
          await setDiskStatus(e, disk.id, disk.status);
        });
      } finally {
        release();
      }
    });
    return { copy, ...started };
  },
};

/** Whether the image is on the target domain and gone from the source (a move rolled forward). */
async function movedOnStorage(e: Engine, dcId: string, host: Host, img: string, src: string, dst: string): Promise<boolean> {
  const where = await askStorage(e, dcId, host, async (node) => ({ src: await hasImage(node, src, img), dst: await hasImage(node, dst, img) }));
  return where !== undefined && where.dst && !where.src;
}

export const MoveDisk: CommandDef<{ id: string; body: unknown }, MovePlan, Started> = {
  name: "move Disk",
  locks: (i) => [`disk:${i.id}`],
  async validate(e, { id, body }) {
    const p = await plan(e, id, body, "move Disk");
    if (p.target.id === p.disk.storage_domain_id) throw invalid(`Cannot move Disk ${p.disk.alias}: it is already on storage domain ${p.target.name}`);
    const tb = await templateBaseOf(e, p.disk);
    if (tb) throw conflict(`Cannot move Disk ${p.disk.alias}: it is based on template disk ${tb.disk?.alias ?? tb.volumeId}, which stays on its domain`);
    // Snapshots move with it: moveImage copies every volume of the chain.
    return { disk: p.disk, dc: p.dc, spm: p.spm, target: p.target };
  },
  describe: (p) => `Moving Disk ${p.disk.alias} to domain ${p.target.name}`,
  async execute(e, { disk, dc, spm, target }, x) {
    await setDiskStatus(e, disk.id, "locked");
    x.revert.push("unlock the disk", () => setDiskStatus(e, disk.id, disk.status));
    return inBackground(e, x, "move Disk", async () => {
      await nodeStep(
        e,
        x.jobId,
        spm,
        `Moving image ${disk.id} to ${target.name} on ${spm.name}`,
        () => e.nodes.for(spm).call("moveImage", { spUUID: dc.id, srcDomUUID: disk.storage_domain_id, dstDomUUID: target.id, imgUUID: disk.id, op: 2 }),
        copyProgress(e, spm, dc.id, target.id, disk.id, disk.image_id, Math.max(num(disk.actual_size), 1)),
      ).catch(async (err: unknown) => {
        // Once the copy is whole the node's move rolls forward (the source delete is finished by
        // whichever SPM recovers the task): then the disk is on the target, whatever the task said.
        if (!(await movedOnStorage(e, dc.id, spm, disk.id, disk.storage_domain_id, target.id))) throw err;
        e.log.warn({ err, disk: disk.id, target: target.id }, "move task did not succeed, but storage shows it done (rolled forward)");
      });
      await engineStep(e, x.jobId, "finalizing", "Recording the disk's new domain", async () => {
        await e.db.updateTable("disks").set({ storage_domain_id: target.id, status: disk.status }).where("id", "=", disk.id).execute();
      });
    });
  },
};

const UpdateInput = z.object({
  provisioned_size: Int(1, MAX_DISK_BYTES).optional(),
  name: Name.optional(),
  alias: Name.optional(),
  description: Text(500).optional(),
  // Accepted as oVirt clients send the whole disk back; anything else changing is refused below.
  id: z.string().optional(),
});

interface UpdatePlan {
  disk: Disk;
  size?: number;
  alias?: string;
  description?: string;
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
    if (size === undefined && alias === undefined && p.description === undefined) return { disk };
    if (disk.template_id) throw conflict(`Cannot update Disk ${disk.alias}: it belongs to a template`);
    ensureUsable(e, disk, "update Disk", true);
    // The preview leaf is not the disk for good: a new size or description there would be lost
    // (or differ from the old branch's) on undo.
    await ensureNotInPreview(e, `${size !== undefined ? "extend" : "update"} Disk ${disk.alias}`, { diskId: disk.id });
    if (size !== undefined) {
      const vm = (await runningUsers(e, disk.id))[0];
      if (vm) throw conflict(`Cannot extend Disk ${disk.alias}: VM ${vm.name} using it is ${vm.status} (no live extension yet)`);
    }
    return { disk, size, alias, description: p.description };
  },
  describe: (p) => `Updating Disk ${p.disk.alias}${p.size !== undefined ? ` (extending to ${p.size} bytes)` : ""}`,
  async execute(e, { disk, size, alias, description }, x) {
    if (size === undefined && alias === undefined && description === undefined) return disk;
    const { dc, spm } = await poolOf(e, disk, "update Disk");
    const client = e.nodes.for(spm);
    let out: Disk = { ...disk };
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
          client.call("extendVolumeSize", { spUUID: dc.id, sdUUID: disk.storage_domain_id, imgUUID: disk.id, volUUID: disk.image_id, newSize: size }),
        );
      } catch (err) {
        await setDiskStatus(e, disk.id, disk.status);
        throw err;
      }
      const info = await client.call("getVolumeInfo", { sdUUID: disk.storage_domain_id, spUUID: dc.id, imgUUID: disk.id, volUUID: disk.image_id });
      const cap = Number(info.capacity) || size;
      await e.db.updateTable("disks").set({ provisioned_size: cap, status: disk.status }).where("id", "=", disk.id).execute();
      out = { ...out, provisioned_size: cap };
    }
    return out;
  },
};
