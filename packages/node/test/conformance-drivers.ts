/**
 * The pools the storage conformance suite runs on, one per domain driver, each through a real
 * node process that is the pool's SPM:
 * - file: a LOCALFS master in a temp dir, plus a second LOCALFS data domain in the pool;
 * - block: a VG on one loop-device LUN (block-support.ts) as master, data path without
 *   device-mapper (a loop device over each LV's range), plus a POSIXFS data domain on a local
 *   directory in the same pool, so copies and moves go between a file and a block domain.
 * Each names a path qemu-io can open for a volume (prepareImage through the node), runs its
 * driver's on-disk checker and fingerprints its domain for "nothing changed" checks.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { createLogger } from "../src/log.js";
import { checkBlockDomain } from "../src/storage/block/check.js";
import { LoopDataPath } from "../src/storage/block/datapath.js";
import { Lvm } from "../src/storage/block/lvm.js";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { BlockDomain } from "../src/storage/domain/block.js";
import { LunSet } from "./block-support.js";
import { type NodeProc, setupLocalPool, startNode, waitTask } from "./harness.js";
import { snapshotTree } from "./tree.js";

const GiB = 2 ** 30;
type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

export interface DomainUnderTest {
  sd: string;
  /** Problems the driver's on-disk checker finds (none when clean). */
  check(): Promise<string[]>;
  /** A fingerprint of everything the domain holds (liveness records excluded). */
  state(): Promise<unknown>;
}

export interface DriverPool extends DomainUnderTest {
  driver: "file" | "block";
  node: NodeProc;
  sp: string;
  /** Another data domain of the same pool (block: a file domain). */
  other: DomainUnderTest;
  /** A path qemu-io can open for the volume (its chain prepared), on `sd` unless told. */
  path(img: string, vol: string, sd?: string): Promise<string>;
  close(): Promise<void>;
}

async function ok(r: Resp | Promise<Resp>, what: string): Promise<Resp> {
  const res = await r;
  if (res.status.code !== 0) throw new Error(`${what}: ${res.status.message} (${res.status.code})`);
  return res;
}

function fileDomain(dir: string, sd: string): DomainUnderTest {
  return {
    sd,
    check: async () => (await checkFileDomain(join(dir, sd))).problems,
    state: async () => snapshotTree(join(dir, sd)),
  };
}

/** A file data domain on a fresh directory, attached to and active in the pool. */
async function addFileDomain(node: NodeProc, sp: string, domType: number): Promise<{ dir: string; dom: DomainUnderTest }> {
  const dir = mkdtempSync(join(tmpdir(), "vela-conf-other-"));
  const sd = randomUUID();
  await ok(node.xml("connectStorageServer", domType, BLANK, [{ id: randomUUID(), connection: dir }]), "connect other");
  await ok(node.xml("createStorageDomain", domType, sd, "other", dir, 1, 5), "create other");
  await ok(node.xml("attachStorageDomain", sd, sp), "attach other");
  await ok(node.xml("activateStorageDomain", sd, sp), "activate other");
  return { dir, dom: fileDomain(dir, sd) };
}

function pathVia(node: NodeProc, sp: string, defaultSd: string) {
  return async (img: string, vol: string, sd = defaultSd) => (await ok(node.xml("prepareImage", sd, sp, img, vol), `prepareImage ${vol}`)).path as string;
}

export async function filePool(env: Record<string, string> = {}): Promise<DriverPool> {
  const node = await startNode({ env: { VELA_LOG_LEVEL: "warn", ...env } });
  try {
    const pool = await setupLocalPool(node);
    const other = await addFileDomain(node, pool.spUUID, 4);
    return {
      driver: "file",
      node,
      sp: pool.spUUID,
      ...fileDomain(pool.dir, pool.sdUUID),
      other: other.dom,
      path: pathVia(node, pool.spUUID, pool.sdUUID),
      async close() {
        await node.stop();
        rmSync(other.dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await node.stop();
    throw err;
  }
}

/**
 * A block master on one LUN. Thin volumes start at one chunk of `chunkMiB` (or their capacity ×
 * 1.1 if smaller), so tests that write with qemu-io (no VM to trigger extension) stay inside
 * their LV with a chunk larger than their volumes.
 */
export async function blockPool(chunkMiB = 1024, env: Record<string, string> = {}): Promise<DriverPool> {
  const luns = new LunSet();
  const lun = luns.add("lun", 24 * GiB);
  let node: NodeProc | undefined;
  try {
    node = await startNode({ env: { VELA_LOG_LEVEL: "warn", VELA_NODE_LUN_DIRS: luns.dir, VELA_NODE_BLOCK_PATH: "loop", VELA_NODE_THIN_CHUNK_MIB: String(chunkMiB), ...env } });
    const n = node;
    const sd = randomUUID();
    const sp = randomUUID();
    const guid = ((await ok(n.xml("getDeviceList"), "getDeviceList")).devList as { GUID: string }[])[0]!.GUID;
    const vgUUID = (await ok(n.xml("createVG", sd, [guid], false), "createVG")).uuid as string;
    await ok(n.xml("createStorageDomain", 3, sd, "block master", vgUUID, 1, 5), "createStorageDomain");
    await ok(n.xml("createStoragePool", 0, sp, "block pool", sd, [sd], 1), "createStoragePool");
    await ok(n.xml("connectStoragePool", sp, 1, "", sd, 1), "connectStoragePool");
    const st = await waitTask(n, (await ok(n.xml("spmStart", sp, -1, "-1", 0, false), "spmStart")).uuid as string, 600_000);
    if (st.taskResult !== "success") throw new Error(`spmStart: ${st.message}`);
    // POSIXFS on a local directory: a file domain a shared (block) pool may hold.
    const other = await addFileDomain(n, sp, 6);
    const log = createLogger("conformance-check");
    log.level = "warn";
    const lvm = new Lvm(log, async () => [lun.device], false);
    const root = mkdtempSync(join(tmpdir(), "vela-conf-blocksd-"));
    const dom = new BlockDomain(sd, { lvm, dataPath: new LoopDataPath(log), root, log });
    return {
      driver: "block",
      node: n,
      sd,
      sp,
      other: other.dom,
      path: pathVia(n, sp, sd),
      check: async () => (await checkBlockDomain(dom)).problems,
      async state() {
        // The VG's tags, every LV with its tags and extents, and the text of every used slot.
        const lvs = await lvm.lvs(sd);
        const slots: string[] = [];
        for (const lv of lvs) {
          const slot = lv.tags.find((t) => t.startsWith("MD_"));
          if (slot) slots.push(`${lv.name}:${createHash("sha1").update(await dom.readSlot(Number(slot.slice(3)))).digest("hex")}`);
        }
        const vg = await lvm.vg(sd);
        return { vgTags: vg?.tags, lvs: lvs.map((l) => ({ name: l.name, tags: [...l.tags].sort(), segments: l.segments, size: l.size })).sort((a, b) => a.name.localeCompare(b.name)), slots: slots.sort() };
      },
      async close() {
        await n.stop();
        luns.cleanup();
        rmSync(other.dir, { recursive: true, force: true });
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await node?.stop();
    luns.cleanup();
    throw err;
  }
}

/** Both drivers; VELA_TEST_DRIVERS=block (or file) runs one, when working on that driver. */
export const DRIVER_POOLS: [DriverPool["driver"], () => Promise<DriverPool>][] = (
  [
    ["file", () => filePool()],
    ["block", () => blockPool()],
  ] as [DriverPool["driver"], () => Promise<DriverPool>][]
).filter(([n]) => !process.env.VELA_TEST_DRIVERS || process.env.VELA_TEST_DRIVERS.split(",").includes(n));
