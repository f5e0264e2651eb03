/**
 * Kernel same-page merging for the cluster's `ksm.enabled`: writes 1 or 0 to the kernel's
 * `run` switch (/sys/kernel/mm/ksm/run). A kernel built without KSM has no such directory: the
 * node says so (`present: false`) instead of pretending, and reports the state in its stats.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errno } from "../../storage/fileutil.js";

export const KSM_DIR = "/sys/kernel/mm/ksm";

export interface KsmState {
  present: boolean;
  running: boolean;
  /** Pages shared now (pages_sharing), when present. */
  pagesSharing?: number;
}

async function readNum(path: string): Promise<number | undefined> {
  try {
    return Number((await readFile(path, "utf8")).trim());
  } catch (e) {
    if (errno(e) === "ENOENT") return undefined;
    throw e;
  }
}

export async function ksmState(dir = KSM_DIR): Promise<KsmState> {
  const run = await readNum(join(dir, "run"));
  if (run === undefined) return { present: false, running: false };
  return { present: true, running: run === 1, pagesSharing: await readNum(join(dir, "pages_sharing")) };
}

/** Turns KSM on or off; answers the state after (present false: nothing to switch). */
export async function setKsm(enabled: boolean, dir = KSM_DIR): Promise<KsmState> {
  const before = await ksmState(dir);
  if (!before.present) return before;
  if (before.running !== enabled) await writeFile(join(dir, "run"), enabled ? "1\n" : "0\n");
  return ksmState(dir);
}
