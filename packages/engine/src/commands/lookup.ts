/**
 * The small derived facts commands share: a domain's data center, a data center's SPM (asked of
 * the host, not only read from the record). Rows by id or name are in `db/repo/entities.ts`.
 */
import { conflict } from "../errors/fault.js";
import { type Engine, sleep } from "../engine.js";
import type { DataCenter, Host, StorageDomain } from "../db/schema.js";
import { byId, mustById } from "../db/repo/entities.js";
import { spmStatus } from "../hosts/storage.js";

/** The data center a domain is attached to (and the attachment), if any. */
export async function attachmentOf(e: Engine, sdId: string) {
  return e.db.selectFrom("storage_domain_attachments").selectAll().where("storage_domain_id", "=", sdId).executeTakeFirst();
}

/**
 * The data center's SPM host, which must be up and not say it lost the role: the only host that
 * may change pool metadata. The engine's record alone is not enough: an agent restarted faster
 * than one poll is still recorded as SPM while it waits for its old lease to expire, and work sent
 * to it then was refused (seen: a disk delete sent to a restarted SPM failed instead of running).
 * So the host is asked, as VDSM's clients confirmed the role; one that says it is not SPM gets a
 * "try again later" (409), which clients retry. One that does not answer in time is used as before:
 * the work waits for it (a frozen SPM thaws, or its tasks move to the next SPM).
 */
export async function spmOf(e: Engine, dc: DataCenter, what: string): Promise<Host> {
  if (!dc.master_domain_id) throw conflict(`Cannot ${what}: data center ${dc.name} has no storage pool (no master storage domain attached)`);
  const host = dc.spm_host_id ? await byId(e, "hosts", dc.spm_host_id) : undefined;
  if (host?.status !== "up") throw conflict(`Cannot ${what}: data center ${dc.name} has no SPM host up`);
  let st = await spmStatus(e, host, dc, { timeoutMs: SPM_CONFIRM_MS }).catch(() => undefined);
  // A host that is taking the role back (a restarted agent, a pool being refreshed) has it again
  // within moments: wait a little before sending the client away.
  for (const deadline = Date.now() + SPM_REGAIN_MS; st && st.status !== "SPM" && Date.now() < deadline; ) {
    await sleep(250);
    st = await spmStatus(e, host, dc, { timeoutMs: SPM_CONFIRM_MS }).catch(() => undefined);
  }
  if (st && st.status !== "SPM") {
    throw conflict(`Cannot ${what}: host ${host.name} of data center ${dc.name} is taking the SPM role again (it says ${st.status}); try again later`);
  }
  return host;
}

/** How long a command waits for the SPM to confirm its role before going ahead on the record. */
const SPM_CONFIRM_MS = 2000;
/** How long a command waits for a recorded SPM that says it lacks the role to take it back. */
const SPM_REGAIN_MS = 5000;

/** A domain usable for images: attached to a data center and active there. */
export async function activeDomain(e: Engine, sd: StorageDomain, what: string): Promise<DataCenter> {
  const att = await attachmentOf(e, sd.id);
  if (!att) throw conflict(`Cannot ${what}: storage domain ${sd.name} is not attached to a data center`);
  if (att.status !== "active") throw conflict(`Cannot ${what}: storage domain ${sd.name} is ${att.status}, not active`);
  return mustById(e, "data_centers", att.data_center_id);
}
