/**
 * Adds a disk: a new image with one volume, created by the SPM as a node task. The reply is
 * immediate (201, status locked); the disk turns ok when the task succeeds, illegal when it
 * fails. The task id is kept in the job's step so the outcome is still collected after an engine
 * restart. Disk id = image UUID, image_id = the leaf volume UUID (as oVirt names them). The caller
 * may choose the disk id (oVirt 4.x accepts `id` on add), so a client that lost the reply can retry
 * without making a second disk: the retry is refused with 409 while the first one exists.
 * The disk consumes its provisioned size from its quota (the one named, else the data center's
 * default; quotas/consume.ts).
 */
import { randomUUID } from "node:crypto";
import { initialSizeProblem } from "@vela/protocol";
import { z } from "zod";
import { badRequest, conflict, invalid } from "../errors/fault.js";
import { Bool, Enum, Int, ListOf, Name, parseInput, Ref, Text, Uuid } from "../input/input.js";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import { type Disk, now } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { NodeError } from "../hosts/client.js";
import { addStep, endStep, setJobPayload, TaskFailed, TaskLost, waitTask } from "../jobs/jobs.js";
import type { CommandDef } from "./command.js";
import { activeDomain, spmOf } from "./lookup.js";
import { byRef } from "../db/repo/entities.js";
import { consumeStorage, quotaFor } from "../quotas/consume.js";

/** 1 PiB: anything larger is a typo, not a disk (the node refuses it too). */
export const MAX_DISK_BYTES = 2 ** 50;

export const Input = z.object({
  id: Uuid.optional(),
  provisioned_size: Int(1, MAX_DISK_BYTES),
  initial_size: Int(0, MAX_DISK_BYTES).optional(),
  format: Enum(["cow", "raw"]).optional(),
  sparse: Bool.optional(),
  name: Name.optional(),
  alias: Name.optional(),
  description: Text(500).optional(),
  shareable: Bool.optional(),
  wipe_after_delete: Bool.optional(),
  // iso: an installation image kept on a data domain (what the SDK's upload_disk.py declares for
  // an ISO file); its volume's metadata says so (VDSM's disk type ISOF).
  content_type: Enum(["data", "iso"]).optional(),
  storage_type: Enum(["image"]).optional(),
  storage_domains: ListOf("storage_domain", Ref),
  quota: z.object({ id: Uuid }).optional(),
}).superRefine((d, ctx) => {
  // The node's own rule (protocol's volume-rules), with the API's defaults: cow, sparse; checked
  // only where the size is used (see initialSizeOf).
  const problem = initialSizeProblem({
    format: d.format === "raw" ? "RAW" : "COW",
    preallocate: d.sparse === false ? "PREALLOCATED" : "SPARSE",
    initialSize: initialSizeOf(d),
    capacity: d.provisioned_size,
  });
  if (problem) ctx.addIssue({ code: "custom", path: ["initial_size"], message: problem });
});

/**
 * The initial size the volume is created with: only a preallocated raw volume has a use for one.
 * oVirt defines `initial_size` as a hint for sparse disks on block storage and ignores it
 * elsewhere, and clients send it regardless (the SDK's upload_disk.py sends the image's measured
 * size with every disk, cow and preallocated by default), so elsewhere it is ignored, not refused.
 * (Vela's block volumes size their logical volumes themselves.)
 */
function initialSizeOf(d: { format?: string; sparse?: boolean; initial_size?: number }): number | undefined {
  return d.format === "raw" && d.sparse === false ? d.initial_size : undefined;
}

interface Plan {
  disk: Disk;
  dcId: string;
  spm: { id: string; address: string; port: number; name: string };
}

/** VDSM's volume description: JSON with the alias, bounded to 210 characters. */
export function volumeDescription(alias: string, description: string): string {
  const full = JSON.stringify({ DiskAlias: alias, DiskDescription: description });
  return full.length <= 210 ? full : JSON.stringify({ DiskAlias: alias.slice(0, 150), DiskDescription: "" }).slice(0, 210);
}

export const AddDisk: CommandDef<unknown, Plan, Disk> = {
  name: "add Disk",
  locks: () => [],
  async validate(e, body) {
    const p = parseInput(Input, body, "Disk");
    if (p.storage_domains.length !== 1) throw badRequest("Disk [storage_domains] must name exactly one storage domain");
    const sd = await byRef(e, "storage_domains", p.storage_domains[0] as Ref);
    const dc = await activeDomain(e, sd, "add Disk");
    const quota = await quotaFor(e, dc.id, p.quota, "add Disk");
    const spm = await spmOf(e, dc, "add Disk");
    const format = p.format ?? "cow";
    const sparse = p.sparse ?? true;
    if (p.shareable && format === "cow") throw invalid("Cannot add Disk: a shareable disk must have raw format");
    if (p.id && (await e.db.selectFrom("disks").select("id").where("id", "=", p.id).executeTakeFirst())) {
      throw conflict(`Cannot add Disk. A disk with id ${p.id} already exists.`);
    }
    const alias = p.name ?? p.alias ?? `disk_${randomUUID().slice(0, 8)}`;
    const disk: Disk = {
      id: p.id ?? randomUUID(),
      image_id: randomUUID(),
      storage_domain_id: sd.id,
      alias,
      description: p.description ?? "",
      provisioned_size: p.provisioned_size,
      actual_size: 0,
      initial_size: initialSizeOf(p) ?? null,
      format,
      sparse: sparse ? 1 : 0,
      shareable: p.shareable ? 1 : 0,
      wipe_after_delete: p.wipe_after_delete ? 1 : 0,
      status: "locked",
      content_type: p.content_type ?? "data",
      template_id: null,
      created_at: now(),
      quota_id: quota.id,
    };
    // last: what it lets through counts for other checks until the disk's row exists
    await consumeStorage(e, { dc, quota, bytes: new Map([[sd.id, p.provisioned_size]]), what: "add Disk", until: { disks: [disk.id] } });
    return { disk, dcId: dc.id, spm };
  },
  describe: (p) => `Adding Disk ${p.disk.alias}`,
  async execute(e, { disk, dcId, spm }, x) {
    // A retry racing its first attempt with the same id: the primary key decides, 409 as above.
    await e.db
      .insertInto("disks")
      .values(disk)
      .execute()
      .catch((err: unknown) => {
        throw /UNIQUE|PRIMARY/i.test(String(err)) ? conflict(`Cannot add Disk. A disk with id ${disk.id} already exists.`) : err;
      });
    await e.db.insertInto("images").values({ id: disk.image_id, disk_id: disk.id, parent_id: BLANK_TEMPLATE_ID, snapshot_id: null, created_at: disk.created_at }).execute();
    x.revert.push("forget disk", async () => {
      await e.db.deleteFrom("images").where("disk_id", "=", disk.id).execute();
      await e.db.deleteFrom("disks").where("id", "=", disk.id).execute();
    });
    const release = e.locks.acquire([`disk:${disk.id}`], "add Disk");
    x.revert.push("unlock disk", async () => release());
    const taskId = await e.nodes.for(spm).call("createVolume", {
      sdUUID: disk.storage_domain_id,
      spUUID: dcId,
      imgUUID: disk.id,
      size: disk.provisioned_size,
      volFormat: disk.format === "cow" ? "COW" : "RAW",
      preallocate: disk.sparse ? "SPARSE" : "PREALLOCATED",
      diskType: disk.content_type === "iso" ? "ISOF" : "DATA",
      volUUID: disk.image_id,
      desc: volumeDescription(disk.alias, disk.description),
      initialSize: disk.initial_size ?? undefined,
    });
    const stepId = await addStep(e, x.jobId, "executing", `Creating volume ${disk.image_id} on ${spm.name}`, { taskId, hostId: spm.id });
    await setJobPayload(e, x.jobId, { diskId: disk.id, dcId, stepId });
    const done = x.detach();
    e.bg.run(`add disk ${disk.id}`, async () => {
      const ok = await finishAddDisk(e, { diskId: disk.id, dcId, stepId, taskId, host: spm });
      release();
      await done(ok ? "finished" : "failed");
    });
    return disk;
  },
};

/**
 * Waits for the createVolume task and settles the disk: ok (with its real size) or illegal.
 * Also called at engine start for jobs a restart interrupted.
 */
export async function finishAddDisk(
  e: Engine,
  a: { diskId: string; dcId: string; stepId: string; taskId: string; host: { address: string; port: number; name: string } },
): Promise<boolean> {
  const disk = await e.db.selectFrom("disks").selectAll().where("id", "=", a.diskId).executeTakeFirst();
  if (!disk) return false;
  let ok = false;
  try {
    await waitTask(e, a.host, a.taskId);
    ok = true;
  } catch (err) {
    if (err instanceof TaskLost) {
      // The node forgot the task (restart): the volume itself tells whether it was made.
      ok = await e.nodes
        .for(a.host)
        .call("getVolumeInfo", { sdUUID: disk.storage_domain_id, spUUID: a.dcId, imgUUID: disk.id, volUUID: disk.image_id })
        .then((info) => info.legality === "LEGAL")
        .catch(() => false);
    } else if (err instanceof TaskFailed || err instanceof NodeError) {
      e.log.warn({ err, disk: disk.id }, "createVolume failed");
    } else {
      throw err;
    }
  }
  let actual = 0;
  if (ok) {
    actual = await e.nodes
      .for(a.host)
      .call("getVolumeInfo", { sdUUID: disk.storage_domain_id, spUUID: a.dcId, imgUUID: disk.id, volUUID: disk.image_id })
      .then((info) => Number(info.truesize) || 0)
      .catch(() => 0);
  }
  await e.db
    .updateTable("disks")
    .set({ status: ok ? "ok" : "illegal", actual_size: actual })
    .where("id", "=", disk.id)
    .execute();
  await endStep(e, a.stepId, ok ? "finished" : "failed");
  e.log.info({ disk: disk.id, alias: disk.alias, status: ok ? "ok" : "illegal" }, "disk creation settled");
  return ok;
}

export function ensureNotLocked(d: Disk, what: string): void {
  if (d.status === "locked") throw conflict(`Cannot ${what}: disk ${d.alias} is locked (an operation on it is in progress)`);
}
