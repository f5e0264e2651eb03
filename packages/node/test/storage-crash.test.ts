/**
 * Crash safety of every issue-3 SPM operation, one fault point per test: the node is killed
 * (VELA_TEST_FAULTS: the process dies at the named step, kill -9 semantics) in the middle of
 * createVolume (a snapshot), copyImage, mergeSnapshots and deleteImage. A new agent on the same run
 * dir takes the SPM role again (5 s lease), and then: the task is rolled back or rolled forward,
 * no ILLEGAL volume and no orphan file is left, every chain is valid (check.ts, qemu-img included),
 * and the data a guest sees is what it was before the operation. Each fault point gets its own
 * node and domain, and they run a few at a time: most of each test is waiting out the dead SPM's
 * lease. Last, revertTask replays a rollback that could not finish on the new SPM.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { type NodeProc, rejoinPool, startNode, waitExit, waitTask } from "./harness.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";

const MiB = 2 ** 20;
const SIZE = 32 * MiB;
const nodes: NodeProc[] = [];
after(async () => {
  for (const n of nodes) await n.kill("SIGKILL").catch(() => {});
});

type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

async function ok(p: Promise<Resp>, what: string): Promise<Resp> {
  const r = await p;
  assert.equal(r.status.code, 0, `${what}: ${r.status.message}`);
  return r;
}

interface Pool {
  dir: string;
  sd: string;
  sp: string;
  domainDir: string;
}

/** The guest-visible content of a chain as a raw file. */
function flatten(path: string, out: string): string {
  execFileSync("qemu-img", ["convert", "-U", "-f", "qcow2", "-O", "raw", path, out]);
  return out;
}

function sameContent(raw: string, leaf: string): boolean {
  try {
    execFileSync("qemu-img", ["compare", "-U", "-f", "raw", "-F", "qcow2", raw, leaf], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function volumesOf(p: Pool): string[] {
  const images = join(p.domainDir, "images");
  const out: string[] = [];
  for (const img of readdirSync(images)) for (const f of readdirSync(join(images, img))) if (f.endsWith(".meta")) out.push(`${img}/${f.slice(0, -5)}`);
  return out.sort();
}

/** An image base ← mid ← leaf with different data at each level. */
interface Fixture {
  img: string;
  base: string;
  mid: string;
  leaf: string;
  /** Flattened content of the leaf before the operation. */
  expected: string;
  volumesBefore: string[];
}

interface Scenario {
  point: string;
  /** Starts the operation that will die; returns its task id. */
  run(node: NodeProc, p: Pool, f: Fixture): Promise<string>;
  /** Volumes that must exist after recovery (rolled back or rolled forward). */
  after(f: Fixture): string[];
  /** The leaf to read the guest's data through after recovery (undefined: the image is gone). */
  leafAfter(f: Fixture): string | undefined;
}

const rolledBack = (f: Fixture) => f.volumesBefore;
const create = (point: string): Scenario => ({
  point,
  run: async (n, p, f) =>
    (await ok(n.xml("createVolume", p.sd, p.sp, f.img, SIZE, 4, 2, "DATA", randomUUID(), "", f.img, f.leaf), "snapshot")).uuid as string,
  after: rolledBack,
  leafAfter: (f) => f.leaf,
});
const copy = (point: string): Scenario => ({
  point,
  run: async (n, p, f) =>
    (await ok(n.xml("copyImage", p.sd, p.sp, "", f.img, f.leaf, randomUUID(), randomUUID(), "copy", BLANK, 8, 4, 2), "copyImage")).uuid as string,
  after: rolledBack,
  leafAfter: (f) => f.leaf,
});
const merge = (point: string): Scenario => ({
  point,
  run: async (n, p, f) => (await ok(n.xml("mergeSnapshots", p.sd, p.sp, "", f.img, f.base, f.mid), "mergeSnapshots")).uuid as string,
  // Merge cannot be undone once base holds mid's data: it is always finished.
  after: (f) => f.volumesBefore.filter((v) => v !== `${f.img}/${f.mid}`),
  leafAfter: (f) => f.leaf,
});
const del = (point: string, forward: boolean): Scenario => ({
  point,
  run: async (n, p, f) => (await ok(n.xml("deleteImage", p.sd, p.sp, f.img), "deleteImage")).uuid as string,
  // Once the task is on storage the delete only goes forward (VDSM's _remove_me_ semantics).
  after: (f) => (forward ? f.volumesBefore.filter((v) => !v.startsWith(`${f.img}/`)) : f.volumesBefore),
  leafAfter: (f) => (forward ? undefined : f.leaf),
});

const SCENARIOS: Scenario[] = [
  create("createVolume.afterMeta"),
  create("createVolume.afterCreate"),
  create("createVolume.afterParent"),
  create("createVolume.afterLegal"),
  copy("copyImage.afterBegin"),
  copy("copyImage.afterCopy"),
  copy("copyImage.afterLegal"),
  merge("mergeSnapshots.afterIllegal"),
  merge("mergeSnapshots.afterCommit"),
  merge("mergeSnapshots.afterRebase"),
  merge("mergeSnapshots.afterBase"),
  merge("mergeSnapshots.afterRemove"),
  del("deleteImage.beforeRename", false), // nothing renamed yet: the image stays, whole
  del("deleteImage.afterRename", true),
];

async function fixture(node: NodeProc, p: Pool, scratch: string): Promise<Fixture> {
  const img = randomUUID();
  const [base, mid, leaf] = [randomUUID(), randomUUID(), randomUUID()];
  let parent = BLANK;
  for (const [i, v] of [base, mid, leaf].entries()) {
    const t = await ok(node.xml("createVolume", p.sd, p.sp, img, SIZE, 4, 2, "DATA", v, "", parent === BLANK ? BLANK : img, parent), "createVolume");
    assert.equal((await waitTask(node, t.uuid as string)).taskResult, "success");
    const path = join(p.domainDir, "images", img, v);
    execFileSync("qemu-io", ["-f", "qcow2", "-c", `write -P ${0x21 + i} ${i * MiB} ${2 * MiB}`, path], { stdio: "ignore" });
    parent = v;
  }
  // A second image that no operation touches: recovery must leave it alone.
  const other = await ok(node.xml("createVolume", p.sd, p.sp, randomUUID(), SIZE, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK), "bystander");
  assert.equal((await waitTask(node, other.uuid as string)).taskResult, "success");
  const expected = flatten(join(p.domainDir, "images", img, leaf), join(scratch, "expected.raw"));
  return { img, base, mid, leaf, expected, volumesBefore: volumesOf(p) };
}

describe("a node killed at each step of an SPM operation is recovered by the next SPM", { concurrency: 7 }, () => {
  for (const s of SCENARIOS) {
    test(s.point, async () => {
      const runDir = mkdtempSync(join(tmpdir(), "vela-crash-run-"));
      const dir = mkdtempSync(join(tmpdir(), "vela-crash-sd-"));
      const scratch = mkdtempSync(join(tmpdir(), "vela-crash-scratch-"));
      const p: Pool = { dir, sd: randomUUID(), sp: randomUUID(), domainDir: join(dir, "") };
      p.domainDir = join(dir, p.sd);
      // The fixture is made by a node without faults, which then stops cleanly (freeing the lease).
      const prep = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn" } });
      nodes.push(prep);
      await ok(prep.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: dir }]), "connect");
      await ok(prep.xml("createStorageDomain", 4, p.sd, "crash", dir, 1, 5), "createStorageDomain");
      await ok(prep.xml("createStoragePool", 0, p.sp, "crash pool", p.sd, [p.sd], 1, "", 1, 5, 10, 3), "createStoragePool");
      await rejoinPool(prep, p, 90_000);
      const f = await fixture(prep, p, scratch);
      await prep.stop();

      const a = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn", VELA_TEST_FAULTS: s.point } });
      nodes.push(a);
      await rejoinPool(a, p, 90_000);

      const taskId = await s.run(a, p, f);
      await waitExit(a, 30_000);

      const b = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn" } });
      nodes.push(b);
      await rejoinPool(b, p, 90_000);
      const st = (await b.json("Task.getStatus", { taskID: taskId })) as { taskState: string; taskResult: string; message: string };
      assert.equal(st.taskState, "finished", `task ${st.taskState}: ${st.message}`);
      assert.ok(st.taskResult === "cleanSuccess" || st.taskResult === "success", `task ${st.taskResult}: ${st.message}`);

      assert.deepEqual((await checkFileDomain(p.domainDir)).problems, [], "no ILLEGAL volume, no orphan, every chain valid");
      assert.deepEqual(volumesOf(p), s.after(f).sort(), "the operation was rolled back or finished, nothing else changed");
      assert.deepEqual(
        readdirSync(join(p.domainDir, "images")).filter((n) => !/^[0-9a-f-]{36}$/.test(n)),
        [],
        "no _remove_me_ or other leftovers",
      );
      const leaf = s.leafAfter(f);
      if (leaf) assert.ok(sameContent(f.expected, join(p.domainDir, "images", f.img, leaf)), "the guest sees the same data");
      else assert.ok(!existsSync(join(p.domainDir, "images", f.img)), "the deleted image is gone");

      // The pool works again: the operation's own retry (or a new one) succeeds.
      const again = await s.run(b, p, f).catch(() => undefined);
      if (again) {
        const st2 = await waitTask(b, again, 60_000);
        if (leaf) assert.equal(st2.taskResult, "success", st2.message);
      }
      assert.deepEqual((await checkFileDomain(p.domainDir)).problems, []);
      await b.stop();
    });
  }
});

describe("revertTask", () => {
  test("a rollback that failed on the new SPM is replayed by revertTask once the cause is gone", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "vela-crash-run-"));
    const dir = mkdtempSync(join(tmpdir(), "vela-crash-sd-"));
    const p: Pool = { dir, sd: randomUUID(), sp: randomUUID(), domainDir: "" };
    p.domainDir = join(dir, p.sd);
    const a = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn", VELA_TEST_FAULTS: "createVolume.afterCreate" } });
    nodes.push(a);
    await ok(a.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: dir }]), "connect");
    await ok(a.xml("createStorageDomain", 4, p.sd, "revert", dir, 1, 5), "createStorageDomain");
    await ok(a.xml("createStoragePool", 0, p.sp, "revert pool", p.sd, [p.sd], 1, "", 1, 5, 10, 3), "createStoragePool");
    await rejoinPool(a, p, 90_000);
    const img = randomUUID();
    const vol = randomUUID();
    const taskId = (await ok(a.xml("createVolume", p.sd, p.sp, img, SIZE, 4, 2, "DATA", vol, "", BLANK, BLANK), "createVolume")).uuid as string;
    await waitExit(a, 30_000);
    // The half-made volume cannot be removed for now (an immutable directory, even for root).
    const imgDir = join(p.domainDir, "images", img);
    execFileSync("chattr", ["+i", imgDir]);
    try {
      const b = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn" } });
      nodes.push(b);
      await rejoinPool(b, p, 90_000);
      const failed = (await b.json("Task.getStatus", { taskID: taskId })) as { taskResult: string };
      assert.equal(failed.taskResult, "cleanFailure", "the rollback could not finish");
      assert.notDeepEqual((await checkFileDomain(p.domainDir)).problems, [], "the ILLEGAL volume is still there");
      execFileSync("chattr", ["-i", imgDir]);
      await ok(b.xml("revertTask", taskId), "revertTask");
      const st = (await b.json("Task.getStatus", { taskID: taskId })) as { taskResult: string };
      assert.equal(st.taskResult, "cleanSuccess");
      assert.ok(!existsSync(imgDir), "the half-made volume and its image dir are gone");
      assert.deepEqual((await checkFileDomain(p.domainDir)).problems, []);
      assert.equal((await b.xml("revertTask", taskId)).status.code, 410, "nothing left to revert");
      await b.stop();
    } finally {
      if (existsSync(imgDir)) execFileSync("chattr", ["-i", imgDir], { stdio: "ignore" });
    }
  });
});
