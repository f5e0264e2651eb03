/**
 * What the host state commands share (ApproveHost, ActivateHost, DeactivateHost, RemoveHost,
 * ForceSelectSpm, one per file): setting a host's status, and joining its data center's pool in
 * the background once it is up.
 */
import type { Host } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { joinPool } from "../hosts/storage.js";
import { mustById } from "../db/repo/entities.js";

export async function setStatus(e: Engine, id: string, status: string): Promise<Host> {
  await e.db.updateTable("hosts").set({ status }).where("id", "=", id).execute();
  return mustById(e, "hosts", id);
}

export function afterUp(e: Engine, hostId: string): void {
  e.bg.run(`join pool ${hostId}`, () => joinPool(e, hostId));
}
