/**
 * Generation numbers (migration 0017): a row per kind of data, bumped by triggers in every
 * transaction that writes that data, whichever process writes it. A copy of the data kept under
 * generation N is current as long as the row still reads N.
 */
import type { Db } from "../index.js";

export type GenerationName = "permissions" | "vms";

/** The generation's current number (one single-row read by primary key). */
export async function generation(db: Db, name: GenerationName): Promise<number> {
  const r = await db.selectFrom("generations").select("n").where("name", "=", name).executeTakeFirst();
  return Number(r?.n ?? 0);
}
