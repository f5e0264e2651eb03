/**
 * Image transfers (table `image_transfers`): by id, by ticket, the live ones, and phase changes
 * that only happen from the phases the caller names (a conditional update: the one who changes
 * the phase owns what follows, so a finalize racing an inactivity timeout does one thing).
 */
import type { Engine } from "../../engine.js";
import { type ImageTransfer, now } from "../schema.js";

/** Phases a client may still move data in (and finalize or cancel from). */
export const LIVE_PHASES = ["transferring", "paused_system", "paused_user"];
const ENDED = ["finished_success", "finished_failure"];

export async function transferById(e: Engine, id: string): Promise<ImageTransfer | undefined> {
  return e.db.selectFrom("image_transfers").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The transfer a data path ticket belongs to (the proxy's authorisation). */
export async function transferByTicket(e: Engine, ticket: string): Promise<ImageTransfer | undefined> {
  return e.db.selectFrom("image_transfers").selectAll().where("ticket", "=", ticket).executeTakeFirst();
}

/** Newest first, at most 1000. */
export async function listTransfers(e: Engine): Promise<ImageTransfer[]> {
  return e.db.selectFrom("image_transfers").selectAll().orderBy("created_at", "desc").limit(1000).execute();
}

/** Transfers not finished (after an engine restart: left open by the previous process). */
export async function openTransfers(e: Engine): Promise<ImageTransfer[]> {
  return e.db.selectFrom("image_transfers").selectAll().where("phase", "not in", ENDED).execute();
}

export async function insertTransfer(e: Engine, t: ImageTransfer): Promise<void> {
  await e.db.insertInto("image_transfers").values(t).execute();
}

export async function deleteTransfer(e: Engine, id: string): Promise<void> {
  await e.db.deleteFrom("image_transfers").where("id", "=", id).execute();
}

/** Sets the phase (and more) when the transfer is in one of `from` (any phase without it); true when it changed. */
export async function setTransferPhase(
  e: Engine,
  id: string,
  phase: string,
  from?: string[],
  extra: Partial<Pick<ImageTransfer, "message" | "size" | "transferred">> = {},
): Promise<boolean> {
  let q = e.db.updateTable("image_transfers").set({ phase, last_updated: now(), ...extra }).where("id", "=", id);
  if (from) q = q.where("phase", "in", from);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Bytes moved so far, recorded while the transfer is live (`live`) or whatever its phase. */
export async function setTransferred(e: Engine, id: string, transferred: number, live: boolean): Promise<void> {
  let q = e.db.updateTable("image_transfers").set({ transferred, last_updated: now() }).where("id", "=", id);
  if (live) q = q.where("phase", "in", LIVE_PHASES);
  await q.execute();
}

/** The disk a transfer moves data of (permission checks). */
export async function diskOfTransfer(e: Engine, id: string): Promise<string | undefined> {
  return (await e.db.selectFrom("image_transfers").select("disk_id").where("id", "=", id).executeTakeFirst())?.disk_id;
}
