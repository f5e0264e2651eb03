/**
 * An image transfer's life after AddImageTransfer answered: the node ticket is opened
 * (initializing → transferring), watched (bytes moved, the client's inactivity), and closed by
 * finalize (finalizing_success → finished_success, or finished_failure when the node refuses the
 * upload) or cancel / inactivity (finalizing_failure → finished_failure). Each step claims the
 * phase with a conditional update, so a finalize racing an inactivity timeout does one thing.
 * The disk stays locked, and the command's job and lock open, until the transfer ends; a failed
 * or cancelled transfer leaves the disk as it was (the node writes the volume only on success).
 */
import { conflict } from "../errors/fault.js";
import type { ImageTransfer } from "../db/schema.js";
import { LIVE_PHASES, openTransfers, setTransferPhase, setTransferred, transferById } from "../db/repo/transfers.js";
import { type Engine, sleep } from "../engine.js";
import { NodeError } from "../hosts/client.js";
import { addStep, endStep, setStepProgress } from "../jobs/jobs.js";
import { actualSizeOf, setDiskStatus } from "../commands/chains.js";
import { mustById } from "../db/repo/entities.js";
import { attachmentOf } from "../commands/lookup.js";
import { Code } from "@vela/protocol/errors";

/** How often the engine reads a running ticket's figures from its node. */
export const POLL_MS = 500;

const LIVE = LIVE_PHASES;

interface Running {
  /** Ends the command's job and releases its lock. */
  finish: (status: "finished" | "failed") => Promise<void>;
  stepId?: string;
}

const running = new WeakMap<Engine, Map<string, Running>>();

function table(e: Engine): Map<string, Running> {
  let m = running.get(e);
  if (!m) {
    m = new Map();
    running.set(e, m);
  }
  return m;
}

async function hostOf(e: Engine, t: ImageTransfer) {
  return e.nodes.for(await mustById(e, "hosts", t.host_id));
}

/** The transfer ended: its disk back to what it was (or ok after an upload), its job closed. */
async function end(e: Engine, t: ImageTransfer, ok: boolean, diskStatus: string): Promise<void> {
  await setDiskStatus(e, t.disk_id, diskStatus);
  const r = table(e).get(t.id);
  table(e).delete(t.id);
  if (r?.stepId) await endStep(e, r.stepId, ok ? "finished" : "failed");
  await r?.finish(ok ? "finished" : "failed");
}

/** Runs after AddImageTransfer committed: opens the ticket, then watches it until the transfer leaves the live phases. */
export function startTransfer(e: Engine, t: ImageTransfer, dcId: string, sdId: string, finish: Running["finish"]): void {
  table(e).set(t.id, { finish });
  e.bg.run(`image transfer ${t.id}`, async () => {
    try {
      const node = await hostOf(e, t);
      const info = await node.call("addImageTicket", {
        ticket: t.ticket,
        sdUUID: sdId,
        spUUID: dcId,
        imgUUID: t.disk_id,
        volUUID: t.image_id,
        direction: t.direction as "upload" | "download",
        format: t.format === "cow" ? "qcow2" : "raw",
        timeout: t.inactivity_timeout,
      });
      const r = table(e).get(t.id);
      if (r && t.job_id) r.stepId = await addStep(e, t.job_id, "executing", `${t.direction === "upload" ? "Uploading to" : "Downloading from"} the disk (ticket on the host)`);
      if (!(await setTransferPhase(e, t.id, "transferring", ["initializing"], { size: info.size }))) {
        // Cancelled while the ticket was being made.
        await node.call("removeImageTicket", { ticket: t.ticket }).catch(() => undefined);
        return;
      }
    } catch (err) {
      e.log.warn({ err, transfer: t.id }, "image transfer could not start");
      await setTransferPhase(e, t.id, "finished_failure", undefined, { message: `Cannot start the transfer: ${(err as Error).message}`.slice(0, 1000) });
      await end(e, t, false, t.disk_status_before);
      return;
    }
    await watch(e, t.id);
  });
}

/** Polls the node's ticket while the transfer is live: bytes moved, and the client's inactivity. */
async function watch(e: Engine, id: string): Promise<void> {
  for (;;) {
    await sleep(POLL_MS);
    if (e.bg.stopping) return;
    const t = await transferById(e, id);
    if (!t || !LIVE.includes(t.phase)) return;
    try {
      const info = await (await hostOf(e, t)).call("getImageTicket", { ticket: t.ticket });
      await setTransferred(e, id, info.transferred, true);
      const stepId = table(e).get(id)?.stepId;
      if (stepId && info.size > 0) await setStepProgress(e, stepId, (100 * info.transferred) / info.size);
      if (info.expired) {
        e.log.info({ transfer: id, idle: info.idle }, "image transfer inactive for longer than its timeout: cancelling");
        await cancelTransfer(e, id, "system", `The client was inactive for more than ${t.inactivity_timeout} s`);
        return;
      }
    } catch (err) {
      if (err instanceof NodeError && err.code === Code.ImageTicketNotFound) {
        // The node restarted: the ticket and the data sent so far are gone.
        await cancelTransfer(e, id, "system", "The host lost the transfer's ticket (did its agent restart?)");
        return;
      }
      e.log.debug({ err, transfer: id }, "image ticket poll failed");
    }
  }
}

function liveOrConflict(t: ImageTransfer, what: string): void {
  if (!LIVE.includes(t.phase)) throw conflict(`Cannot ${what} image transfer ${t.id}: it is ${t.phase}`);
}

/** finalize: an upload is checked and written into the disk by the node; a download's ticket closes. */
export async function finalizeTransfer(e: Engine, t: ImageTransfer): Promise<void> {
  liveOrConflict(t, "finalize");
  if (!(await setTransferPhase(e, t.id, "finalizing_success", LIVE))) throw conflict(`Cannot finalize image transfer ${t.id}: it changed phase meanwhile`);
  e.bg.run(`finalize image transfer ${t.id}`, async () => {
    const node = await hostOf(e, t);
    if (t.direction === "download") {
      await node.call("removeImageTicket", { ticket: t.ticket }).catch((err: unknown) => e.log.warn({ err, transfer: t.id }, "removing a download ticket failed"));
      await setTransferPhase(e, t.id, "finished_success");
      await end(e, t, true, t.disk_status_before);
      return;
    }
    try {
      const info = await node.call("getImageTicket", { ticket: t.ticket }).catch(() => undefined);
      if (info) await setTransferred(e, t.id, info.transferred, false);
      const r = table(e).get(t.id);
      if (r?.stepId) await endStep(e, r.stepId, "finished");
      if (r && t.job_id) r.stepId = await addStep(e, t.job_id, "finalizing", "Checking the uploaded image (qemu-img) and writing it into the disk");
      await node.call("finishImageUpload", { ticket: t.ticket });
      const disk = await mustById(e, "disks", t.disk_id);
      const host = await mustById(e, "hosts", t.host_id);
      const dc = await attachmentOf(e, disk.storage_domain_id);
      if (dc) {
        const actual = await actualSizeOf(e, host, dc.data_center_id, disk).catch(() => disk.actual_size);
        await e.db.updateTable("disks").set({ actual_size: actual }).where("id", "=", disk.id).execute();
      }
      await setTransferPhase(e, t.id, "finished_success");
      await end(e, t, true, "ok");
    } catch (err) {
      const why = err instanceof NodeError ? err.nodeMessage : (err as Error).message;
      e.log.warn({ err, transfer: t.id }, "image upload refused at finalize");
      await setTransferPhase(e, t.id, "finished_failure", undefined, { message: `The upload was refused: ${why}`.slice(0, 1000) });
      await end(e, t, false, t.disk_status_before);
    }
  });
}

/** cancel (by the user, or by the system after inactivity): the ticket and its data go, the disk stays as it was. */
export async function cancelTransfer(e: Engine, id: string, by: "user" | "system", why: string): Promise<void> {
  const t = await transferById(e, id);
  if (!t) return;
  if (by === "user") liveOrConflict(t, "cancel");
  if (!(await setTransferPhase(e, id, "finalizing_failure", LIVE, { message: why }))) {
    if (by === "user") throw conflict(`Cannot cancel image transfer ${id}: it changed phase meanwhile`);
    return;
  }
  e.bg.run(`cancel image transfer ${id}`, async () => {
    await (await hostOf(e, t)).call("removeImageTicket", { ticket: t.ticket }).catch((err: unknown) => e.log.warn({ err, transfer: id }, "removing a ticket failed"));
    await setTransferPhase(e, id, "finished_failure");
    await end(e, t, false, t.disk_status_before);
  });
}

/** extend: the client is alive; the node's inactivity clock restarts. */
export async function extendTransfer(e: Engine, t: ImageTransfer): Promise<void> {
  liveOrConflict(t, "extend");
  await (await hostOf(e, t)).call("extendImageTicket", { ticket: t.ticket, timeout: t.inactivity_timeout });
}

/**
 * Transfers a previous engine process left live: their job and lock died with it, so they are
 * ended (the node's ticket removed when it still knows it) and their disks given back.
 */
export async function recoverTransfers(e: Engine): Promise<void> {
  const rows = await openTransfers(e);
  for (const t of rows) {
    if (table(e).has(t.id)) continue;
    await (await hostOf(e, t)).call("removeImageTicket", { ticket: t.ticket }).catch(() => undefined);
    await setTransferPhase(e, t.id, "finished_failure", undefined, { message: "The engine restarted during the transfer" });
    await setDiskStatus(e, t.disk_id, t.disk_status_before);
  }
}
