/**
 * Start an image transfer (`POST /imagetransfers`, oVirt's ImageTransfer add): an upload into a
 * disk, or a download of a disk (or of one of its snapshots' volumes), through a ticket on a host
 * of the disk's data center. The body names the disk (`disk`, or `image` — the disk's volume — or
 * `snapshot` — a disk snapshot, download only), `direction` (upload by default), `format` (the
 * bytes' format: cow = qcow2, raw = guest data; the disk's own by default), `inactivity_timeout`
 * (s, 60 by default) and optionally `host`. Answers 201 in phase `initializing`; the ticket opens
 * in the background (transfers/lifecycle.ts) and the command's job and disk lock stay held until
 * the transfer is finalized or cancelled.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { badRequest, conflict, notFound } from "../errors/fault.js";
import { Enum, Int, parseInput, Ref, Uuid } from "../input/input.js";
import type { DataCenter, Disk, Host, ImageTransfer } from "../db/schema.js";
import { now } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { startTransfer } from "../transfers/lifecycle.js";
import { ensureNotInPreview, ensureUsable, poolOf, runningUsers, setDiskStatus } from "./chains.js";
import type { CommandDef } from "./command.js";
import { byRef, mustById } from "../db/repo/entities.js";
import { deleteTransfer, insertTransfer } from "../db/repo/transfers.js";

const Input = z.object({
  disk: z.object({ id: Uuid }).optional(),
  image: z.object({ id: Uuid }).optional(),
  snapshot: z.object({ id: Uuid }).optional(),
  direction: Enum(["upload", "download"]).optional(),
  format: Enum(["cow", "raw"]).optional(),
  inactivity_timeout: Int(1, 86_400).optional(),
  // What to do with a transfer whose client went quiet. Vela cancels it (the disk is given back):
  // that is oVirt's `cancel`, and `legacy` is accepted as the SDK's older default; `pause` (a
  // paused_system phase a client could resume) is not implemented, so it is refused, not ignored.
  timeout_policy: Enum(["cancel", "legacy", "pause"]).optional(),
  host: Ref.optional(),
});

/** oVirt's default client inactivity timeout (TransferImageClientInactivityTimeoutInSeconds). */
const DEFAULT_INACTIVITY_S = 60;

interface Plan {
  disk: Disk;
  volumeId: string;
  direction: "upload" | "download";
  format: "cow" | "raw";
  timeout: number;
  dc: DataCenter;
  host: Host;
}

/** The disk (and volume) the body names: exactly one of disk, image, snapshot. */
async function target(e: Engine, p: z.output<typeof Input>): Promise<{ disk: Disk; volumeId: string; snapshot: boolean }> {
  const named = [p.disk, p.image, p.snapshot].filter((x) => x !== undefined).length;
  if (named === 0) throw new Error("unreachable"); // checked by the caller
  if (named > 1) throw badRequest("Name one of disk, image or snapshot for the transfer, not several");
  if (p.disk) {
    const disk = await mustById(e, "disks", p.disk.id);
    return { disk, volumeId: disk.image_id, snapshot: false };
  }
  if (p.image) {
    const disk = await e.db.selectFrom("disks").selectAll().where("image_id", "=", p.image.id).executeTakeFirst();
    if (!disk) throw notFound("Image", p.image.id);
    return { disk, volumeId: disk.image_id, snapshot: false };
  }
  const id = (p.snapshot as { id: string }).id;
  const vol = await e.db.selectFrom("images").select(["id", "disk_id"]).where("id", "=", id).executeTakeFirst();
  if (!vol) throw notFound("Disk Snapshot", id);
  return { disk: await mustById(e, "disks", vol.disk_id), volumeId: vol.id, snapshot: true };
}

/** The host that serves the ticket: the one asked for (up, in the disk's data center), else the SPM. */
async function hostFor(e: Engine, p: z.output<typeof Input>, dc: DataCenter, spm: Host): Promise<Host> {
  if (!p.host) return spm;
  const h = await byRef(e, "hosts", p.host);
  const c = await e.db.selectFrom("clusters").select("data_center_id").where("id", "=", h.cluster_id).executeTakeFirst();
  if (c?.data_center_id !== dc.id) throw conflict(`Cannot transfer image: host ${h.name} is not in the disk's data center`);
  if (h.status !== "up") throw conflict(`Cannot transfer image: host ${h.name} is ${h.status}`);
  return h;
}

export const AddImageTransfer: CommandDef<unknown, Plan, ImageTransfer> = {
  name: "transfer Image",
  locks: (body) => {
    const d = (body as { disk?: { id?: unknown } } | undefined)?.disk?.id;
    return typeof d === "string" ? [`disk:${d.toLowerCase()}`] : [];
  },
  async validate(e, body) {
    const p = parseInput(Input, body, "image_transfer");
    if (!p.disk && !p.image && !p.snapshot) throw badRequest("image_transfer [disk.id] required for add (or image.id, or snapshot.id)");
    if (p.timeout_policy === "pause") throw badRequest("image_transfer [timeout_policy] pause is not supported: an inactive transfer is cancelled (use cancel)");
    const { disk, volumeId, snapshot } = await target(e, p);
    const direction = p.direction ?? "upload";
    if (snapshot && direction === "upload" && volumeId !== disk.image_id) throw conflict("Cannot upload into a disk snapshot: upload into the disk");
    const what = `${direction} Disk ${disk.alias}`;
    if (disk.template_id && direction === "upload") throw conflict(`Cannot ${what}: the disk belongs to a template`);
    // The lock is ours when the body named the disk directly.
    ensureUsable(e, disk, what, p.disk !== undefined);
    const vm = (await runningUsers(e, disk.id))[0];
    if (vm) throw conflict(`Cannot ${what}: VM ${vm.name} using the disk is ${vm.status}`);
    if (direction === "upload") {
      await ensureNotInPreview(e, what, { diskId: disk.id });
      const vols = await e.db.selectFrom("images").select("id").where("disk_id", "=", disk.id).execute();
      if (vols.length !== 1) throw conflict(`Cannot ${what}: the disk has snapshots`);
    }
    const { dc, spm } = await poolOf(e, disk, what);
    const host = await hostFor(e, p, dc, spm);
    return { disk, volumeId, direction, format: p.format ?? (disk.format === "raw" ? "raw" : "cow"), timeout: p.inactivity_timeout ?? DEFAULT_INACTIVITY_S, dc, host };
  },
  describe: (p) => `${p.direction === "upload" ? "Uploading" : "Downloading"} image ${p.disk.alias} (${p.format}) through host ${p.host.name}`,
  async execute(e, p, x) {
    const at = now();
    const row: ImageTransfer = {
      id: randomUUID(),
      disk_id: p.disk.id,
      image_id: p.volumeId,
      host_id: p.host.id,
      direction: p.direction,
      format: p.format,
      phase: "initializing",
      // The data path's capability: 122 random bits, separate from the transfer's public id.
      ticket: randomUUID(),
      size: 0,
      transferred: 0,
      inactivity_timeout: p.timeout,
      disk_status_before: p.disk.status,
      job_id: x.jobId || null,
      message: null,
      created_at: at,
      last_updated: at,
    };
    await insertTransfer(e, row);
    x.revert.push("forget the transfer", () => deleteTransfer(e, row.id));
    await setDiskStatus(e, p.disk.id, "locked");
    x.revert.push("unlock the disk", () => setDiskStatus(e, p.disk.id, p.disk.status));
    startTransfer(e, row, p.dc.id, p.disk.storage_domain_id, x.detach());
    return row;
  },
};
