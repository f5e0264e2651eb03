/**
 * A block domain as this host's storage code sees a file domain: `<run>/blockSD/<sd>/dom_md/`
 * holds links named `metadata`, `ids`, `inbox`, `outbox`, `leases`, `xleases` to the devices of
 * those special LVs (datapath.ts), so host ids, the SPM lease and the mailbox work on a block
 * master exactly as on a file one; `master/` is the `master` LV's ext3 file system, made when the
 * domain is created and mounted only by the SPM (as VDSM does: one writer, never two mounts).
 */

import { mkdir, readFile, readlink, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { VdsmError } from "@vela/protocol";
import { run } from "../../exec.js";
import type { Logger } from "../../log.js";
import type { BlockDomain } from "../domain/block.js";

const LINKED = ["metadata", "ids", "inbox", "outbox", "leases", "xleases"] as const;

/** Activates the special LVs (but `master`) and links them under dom_md. Idempotent. */
export async function ensureHostView(dom: BlockDomain): Promise<void> {
  await mkdir(dom.mdDir, { recursive: true, mode: 0o755 });
  const snap = await dom.snapshot();
  for (const name of LINKED) {
    const dev = await dom.env.dataPath.activate(dom.sdUUID, name, await dom.range(name, snap));
    const link = join(dom.mdDir, name);
    if ((await readlink(link).catch(() => undefined)) === dev) continue;
    await rm(link, { force: true });
    await symlink(dev, link);
  }
}

/** Undoes ensureHostView (and unmounts the master area if mounted here). */
export async function dropHostView(log: Logger, dom: BlockDomain): Promise<void> {
  await unmountMaster(log, dom);
  for (const name of LINKED) {
    const r = await dom.range(name).catch(() => undefined);
    if (r) await dom.env.dataPath.deactivate(dom.sdUUID, name, r);
    await rm(join(dom.mdDir, name), { force: true });
  }
}

async function isMounted(dir: string): Promise<boolean> {
  const mounts = await readFile("/proc/self/mounts", "utf8");
  return mounts.split("\n").some((l) => l.split(" ")[1] === dir);
}

/** Makes the master LV's file system (at domain creation: the LUN may hold anything before). */
export async function formatMaster(log: Logger, dom: BlockDomain): Promise<void> {
  const r = await dom.range("master");
  const dev = await dom.env.dataPath.activate(dom.sdUUID, "master", r);
  try {
    await run(["mkfs.ext3", "-q", "-F", "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1", "-L", "master", dev], { log, timeoutMs: 120_000 });
  } catch (err) {
    throw new VdsmError("StorageDomainCreationError", `${dom.sdUUID}: mkfs of the master LV failed: ${(err as Error).message}`);
  } finally {
    await dom.env.dataPath.deactivate(dom.sdUUID, "master", r);
  }
}

/** Mounts the master LV's file system at masterDir() (the SPM, or the pool's creator). Idempotent. */
export async function mountMaster(log: Logger, dom: BlockDomain): Promise<void> {
  const dir = dom.masterDir();
  if (await isMounted(dir)) return;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const dev = await dom.env.dataPath.activate(dom.sdUUID, "master", await dom.range("master"));
  try {
    await run(["mount", "-t", "ext3", "-o", "data=ordered", dev, dir], { log, timeoutMs: 60_000 });
  } catch (err) {
    throw new VdsmError("StoragePoolMasterNotFound", `${dom.sdUUID}: cannot mount the master LV: ${(err as Error).message}`);
  }
}

export async function unmountMaster(log: Logger, dom: BlockDomain): Promise<void> {
  const dir = dom.masterDir();
  if (await isMounted(dir)) await run(["umount", dir], { log, timeoutMs: 60_000 });
  const r = await dom.range("master").catch(() => undefined);
  if (r) await dom.env.dataPath.deactivate(dom.sdUUID, "master", r);
}
