/**
 * Images with branches, as a snapshot preview makes them, through a real node: a new COW volume
 * on an INTERNAL volume of the same image (a second leaf beside the current chain), the data each
 * leaf reads, deleting either branch leaf-first (undo / commit of a preview) without turning the
 * branch point back into a leaf, merge refused at a branch point, copy and move of a branched
 * image, and what is still refused (illegal parents, SHARED volumes in their own image). The
 * on-disk checker must accept every tree made here and reject a branch whose metadata lies.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { parseVolumeMd } from "../src/storage/metadata.js";
import { type LocalPool, type NodeProc, rejoinPool, startNode, waitExit, waitTask } from "./harness.js";
import { usePoolNode } from "./pool-fixture.js";
import { snapshotTree } from "./tree.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";

const MiB = 2 ** 20;
const SIZE = 32 * MiB;

type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

let node: NodeProc;
let pool: LocalPool;

usePoolNode((n, p) => {
  node = n;
  pool = p;
});

async function task(r: Resp | Promise<Resp>, what: string): Promise<void> {
  const res = await r;
  assert.equal(res.status.code, 0, `${what}: ${res.status.message}`);
  const st = await waitTask(node, res.uuid as string);
  assert.equal(st.taskResult, "success", `${what}: ${st.message}`);
}

function createVolume(img: string, vol: string, parent = BLANK, parentImg = parent === BLANK ? BLANK : img): Promise<Resp> {
  return node.xml("createVolume", pool.sdUUID, pool.spUUID, img, SIZE, 4, 2, "DATA", vol, "", parentImg, parent);
}

function volPath(img: string, vol: string, domainDir = pool.domainDir): string {
  return join(domainDir, "images", img, vol);
}

function meta(img: string, vol: string, domainDir = pool.domainDir) {
  return parseVolumeMd(readFileSync(`${volPath(img, vol, domainDir)}.meta`, "utf8"));
}

function write(path: string, pattern: number, offset = 0): void {
  execFileSync("qemu-io", ["-f", "qcow2", "-c", `write -P ${pattern} ${offset} ${MiB}`, path], { stdio: "ignore" });
}

/** True when the chain whose leaf is `path` reads `pattern` over [offset, offset + 1 MiB). */
function reads(path: string, pattern: number, offset = 0): boolean {
  const out = execFileSync("qemu-io", ["-r", "-U", "-f", "qcow2", "-c", `read -P ${pattern} ${offset} ${MiB}`, path], { encoding: "utf8" });
  return !/Pattern verification failed/.test(out);
}

async function problems(domainDir = pool.domainDir): Promise<string[]> {
  return (await checkFileDomain(domainDir)).problems;
}

/**
 * base (0xa0 at 0) ← snap (0xa1 at 0, 0xb1 at 1 MiB) ← leaf (0xa2 at 0): `snap` is the snapshot
 * a preview would show, `leaf` the current state.
 */
async function chain(): Promise<{ img: string; base: string; snap: string; leaf: string }> {
  const img = randomUUID();
  const [base, snap, leaf] = [randomUUID(), randomUUID(), randomUUID()];
  await task(createVolume(img, base), "base");
  write(volPath(img, base), 0xa0);
  await task(createVolume(img, snap, base), "snap");
  write(volPath(img, snap), 0xa1);
  write(volPath(img, snap), 0xb1, MiB);
  await task(createVolume(img, leaf, snap), "leaf");
  write(volPath(img, leaf), 0xa2);
  return { img, base, snap, leaf };
}

describe("a branch on an INTERNAL volume", () => {
  test("a new leaf on an INTERNAL volume reads the snapshot's data beside the current chain; the checker accepts the tree", async () => {
    const { img, base, snap, leaf } = await chain();
    assert.equal(meta(img, snap).VOLTYPE, "INTERNAL");
    const preview = randomUUID();
    await task(createVolume(img, preview, snap), "volume on the INTERNAL snap");

    const pmd = meta(img, preview);
    assert.deepEqual([pmd.VOLTYPE, pmd.PUUID, pmd.FORMAT, pmd.LEGALITY, pmd.CAP], ["LEAF", snap, "COW", "LEGAL", SIZE]);
    assert.equal(meta(img, snap).VOLTYPE, "INTERNAL", "the branch point stays INTERNAL");
    assert.equal(meta(img, leaf).VOLTYPE, "LEAF", "the old leaf stays a leaf");
    const q = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", volPath(img, preview)], { encoding: "utf8" }));
    assert.equal(q["backing-filename"], snap, "backed by the bare UUID of the INTERNAL volume");

    assert.ok(reads(volPath(img, preview), 0xa1) && reads(volPath(img, preview), 0xb1, MiB), "the new leaf shows the snapshot's data");
    assert.ok(reads(volPath(img, leaf), 0xa2), "the current leaf still shows its own data");
    write(volPath(img, preview), 0xa3);
    assert.ok(reads(volPath(img, preview), 0xa3) && reads(volPath(img, leaf), 0xa2) && reads(volPath(img, snap), 0xa1), "each branch writes only itself");

    const info = (await node.xml("getVolumeInfo", pool.sdUUID, pool.spUUID, img, snap)).info as { children: string[] };
    assert.deepEqual([...info.children].sort(), [leaf, preview].sort());
    const prep = await node.xml("prepareImage", pool.sdUUID, pool.spUUID, img, preview);
    assert.equal(prep.status.code, 0, prep.status.message);
    assert.deepEqual((prep.imgVolumesInfo as { volumeID: string }[]).map((v) => v.volumeID), [preview, snap, base]);
    assert.deepEqual(await problems(), [], "two leaves on one INTERNAL volume are a valid image");
  });

  test("undo: deleting the branch leaf leaves its parent INTERNAL with its other child", async () => {
    const { img, snap, leaf } = await chain();
    const preview = randomUUID();
    await task(createVolume(img, preview, snap), "preview");
    await task(node.xml("deleteVolume", pool.sdUUID, pool.spUUID, img, [preview]), "delete preview");
    assert.ok(!existsSync(volPath(img, preview)) && !existsSync(`${volPath(img, preview)}.meta`));
    assert.equal(meta(img, snap).VOLTYPE, "INTERNAL", "still the parent of the old leaf");
    assert.equal(meta(img, leaf).VOLTYPE, "LEAF");
    assert.ok(reads(volPath(img, leaf), 0xa2));
    assert.deepEqual(await problems(), []);
  });

  test("commit: deleting the old branch leaf-first keeps the branch point INTERNAL under the new leaf", async () => {
    const { img, base, snap, leaf } = await chain();
    // Preview the oldest point: the old branch is snap ← leaf.
    const preview = randomUUID();
    await task(createVolume(img, preview, base), "preview on base");
    await task(node.xml("deleteVolume", pool.sdUUID, pool.spUUID, img, [leaf, snap]), "delete the old branch");
    for (const v of [leaf, snap]) assert.ok(!existsSync(`${volPath(img, v)}.meta`), `${v} is gone`);
    assert.equal(meta(img, base).VOLTYPE, "INTERNAL");
    assert.equal(meta(img, preview).VOLTYPE, "LEAF");
    assert.ok(reads(volPath(img, preview), 0xa0) && reads(volPath(img, preview), 0, MiB), "the kept branch reads the base's data only");
    assert.deepEqual((await node.xml("getVolumesList", pool.sdUUID, pool.spUUID, img)).uuidlist, [base, preview].sort());
    assert.deepEqual(await problems(), []);
    // Later snapshots on the kept branch work as on any chain.
    const next = randomUUID();
    await task(createVolume(img, next, preview), "snapshot after the commit");
    assert.equal(meta(img, preview).VOLTYPE, "INTERNAL");
    assert.deepEqual(await problems(), []);
  });

  test("mergeSnapshots into a branch point is refused and changes nothing; merging inside one branch works", async () => {
    const { img, base, snap, leaf } = await chain();
    const preview = randomUUID();
    await task(createVolume(img, preview, snap), "preview");
    const before = snapshotTree(pool.domainDir);
    const r = await node.xml("mergeSnapshots", pool.sdUUID, pool.spUUID, "", img, snap, leaf);
    assert.equal(r.status.code, 252, r.status.message);
    assert.match(r.status.message, /branch/);
    assert.deepEqual(snapshotTree(pool.domainDir), before);
    // base has one child (snap): merging snap into base rebases both branches onto base.
    await task(node.xml("mergeSnapshots", pool.sdUUID, pool.spUUID, "", img, base, snap), "merge below the branch point");
    assert.equal(meta(img, leaf).PUUID, base);
    assert.equal(meta(img, preview).PUUID, base);
    assert.equal(meta(img, base).VOLTYPE, "INTERNAL");
    assert.ok(reads(volPath(img, leaf), 0xa2) && reads(volPath(img, leaf), 0xb1, MiB));
    assert.ok(reads(volPath(img, preview), 0xa1) && reads(volPath(img, preview), 0xb1, MiB));
    assert.deepEqual(await problems(), []);
  });

  test("copyImage of a branch leaf collapses that leaf's chain only", async () => {
    const { img, snap } = await chain();
    const preview = randomUUID();
    await task(createVolume(img, preview, snap), "preview");
    write(volPath(img, preview), 0xa4, 2 * MiB);
    const [dImg, dVol] = [randomUUID(), randomUUID()];
    await task(node.xml("copyImage", pool.sdUUID, pool.spUUID, "", img, preview, dImg, dVol, "copy", BLANK, 8, 4, 2), "copyImage");
    const copy = volPath(dImg, dVol);
    assert.equal(meta(dImg, dVol).PUUID, BLANK);
    assert.ok(reads(copy, 0xa1) && reads(copy, 0xb1, MiB) && reads(copy, 0xa4, 2 * MiB), "the preview branch's data");
    assert.deepEqual(await problems(), []);
  });
});

describe("moving a branched image", () => {
  test("moveImage copies every volume of the tree, parents first, and both leaves read as before", async () => {
    const dir2 = mkdtempSync(join(tmpdir(), "vela-branch-sd2-"));
    const sd2 = randomUUID();
    for (const [verb, ...args] of [
      ["connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: dir2 }]],
      ["createStorageDomain", 4, sd2, "second", dir2, 1, 5],
      ["attachStorageDomain", sd2, pool.spUUID],
      ["activateStorageDomain", sd2, pool.spUUID],
    ] as [string, ...unknown[]][]) {
      const r = await node.xml(verb, ...args);
      assert.equal(r.status.code, 0, `${verb}: ${r.status.message}`);
    }
    const { img, base, snap, leaf } = await chain();
    const preview = randomUUID();
    await task(createVolume(img, preview, snap), "preview");
    write(volPath(img, preview), 0xa3);
    await task(node.xml("moveImage", pool.spUUID, pool.sdUUID, sd2, img, "", 2), "moveImage");
    const dst = join(dir2, sd2);
    assert.ok(!existsSync(join(pool.domainDir, "images", img)), "the source image is gone");
    for (const v of [base, snap, leaf, preview]) assert.equal(meta(img, v, dst).DOMAIN, sd2);
    assert.equal(meta(img, snap, dst).VOLTYPE, "INTERNAL");
    assert.equal(meta(img, preview, dst).PUUID, snap);
    assert.ok(reads(volPath(img, leaf, dst), 0xa2) && reads(volPath(img, leaf, dst), 0xb1, MiB), "the old leaf's chain");
    assert.ok(reads(volPath(img, preview, dst), 0xa3) && reads(volPath(img, preview, dst), 0xb1, MiB), "the branch's chain");
    assert.deepEqual(await problems(dst), []);
  });
});

describe("what stays refused", () => {
  test("a volume on an ILLEGAL INTERNAL parent, or on a SHARED volume in its own image, is refused and changes nothing", async () => {
    const { img, snap } = await chain();
    const r0 = await node.xml("setVolumeLegality", pool.sdUUID, pool.spUUID, img, snap, "ILLEGAL");
    assert.equal(r0.status.code, 0, r0.status.message);
    let before = snapshotTree(pool.domainDir);
    const r = await createVolume(img, randomUUID(), snap);
    assert.equal(r.status.code, 226, r.status.message);
    assert.deepEqual(snapshotTree(pool.domainDir), before);
    assert.equal((await node.xml("setVolumeLegality", pool.sdUUID, pool.spUUID, img, snap, "LEGAL")).status.code, 0);

    const [tImg, tVol] = [randomUUID(), randomUUID()];
    await task(node.xml("copyImage", pool.sdUUID, pool.spUUID, "", img, snap, tImg, tVol, "template", BLANK, 6, 4, 2), "template");
    // A thin clone's image holds the template volume (SHARED, hard-linked) under its own leaf.
    const [cImg, cVol] = [randomUUID(), randomUUID()];
    await task(createVolume(cImg, cVol, tVol, tImg), "thin clone");
    before = snapshotTree(pool.domainDir);
    for (const [what, call] of [
      ["in the template's image", () => createVolume(tImg, randomUUID(), tVol)],
      ["in a thin clone's image, beside the clone's leaf", () => createVolume(cImg, randomUUID(), tVol, cImg)],
    ] as const) {
      const x = await call();
      assert.equal(x.status.code, 262, `${what}: ${x.status.message}`);
      assert.match(x.status.message, /SHARED/);
    }
    assert.deepEqual(snapshotTree(pool.domainDir), before);
  });
});

describe("a crash while a branch is made", () => {
  test("a node killed while making a branch is rolled back, one killed while deleting the old branch is rolled forward; the branch point stays INTERNAL", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "vela-branch-run-"));
    const dir = mkdtempSync(join(tmpdir(), "vela-branch-crash-"));
    const p = { dir, sd: randomUUID(), sp: randomUUID() };
    const domainDir = join(dir, p.sd);
    const extra: NodeProc[] = [];
    try {
      // The fixture base ← snap ← leaf is made by a node without faults, which stops cleanly.
      const prep = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn" } });
      extra.push(prep);
      for (const [verb, ...args] of [
        ["connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: dir }]],
        ["createStorageDomain", 4, p.sd, "branch crash", dir, 1, 5],
        ["createStoragePool", 0, p.sp, "branch crash pool", p.sd, [p.sd], 1, "", 1, 5, 10, 3],
      ] as [string, ...unknown[]][]) {
        const r = await prep.xml(verb, ...args);
        assert.equal(r.status.code, 0, `${verb}: ${r.status.message}`);
      }
      await rejoinPool(prep, p, 90_000);
      const img = randomUUID();
      const [base, snap, leaf] = [randomUUID(), randomUUID(), randomUUID()];
      for (const [v, parent] of [
        [base, BLANK],
        [snap, base],
        [leaf, snap],
      ]) {
        const r = await prep.xml("createVolume", p.sd, p.sp, img, SIZE, 4, 2, "DATA", v, "", parent === BLANK ? BLANK : img, parent);
        assert.equal((await waitTask(prep, r.uuid as string)).taskResult, "success");
      }
      write(volPath(img, leaf, domainDir), 0xa2);
      await prep.stop();
      const metaBefore = [base, snap, leaf].map((v) => readFileSync(`${volPath(img, v, domainDir)}.meta`, "utf8"));

      const a = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn", VELA_TEST_FAULTS: "createVolume.afterCreate" } });
      extra.push(a);
      await rejoinPool(a, p, 90_000);
      const branch = randomUUID();
      const t = await a.xml("createVolume", p.sd, p.sp, img, SIZE, 4, 2, "DATA", branch, "", img, snap);
      assert.equal(t.status.code, 0, t.status.message);
      await waitExit(a, 30_000);
      assert.ok(existsSync(volPath(img, branch, domainDir)), "the node died with the branch half made");

      const b = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn" } });
      extra.push(b);
      await rejoinPool(b, p, 90_000);
      const st = (await b.json("Task.getStatus", { taskID: t.uuid })) as { taskResult: string; message: string };
      assert.equal(st.taskResult, "cleanSuccess", st.message);
      assert.ok(!existsSync(volPath(img, branch, domainDir)) && !existsSync(`${volPath(img, branch, domainDir)}.meta`), "the half-made branch is gone");
      assert.deepEqual(
        [base, snap, leaf].map((v) => readFileSync(`${volPath(img, v, domainDir)}.meta`, "utf8")),
        metaBefore,
        "the chain's metadata is as before: snap still INTERNAL, leaf still the leaf",
      );
      assert.ok(reads(volPath(img, leaf, domainDir), 0xa2));
      assert.deepEqual(await problems(domainDir), []);
      // The retry on the new SPM makes the branch.
      const again = await b.xml("createVolume", p.sd, p.sp, img, SIZE, 4, 2, "DATA", branch, "", img, snap);
      assert.equal((await waitTask(b, again.uuid as string)).taskResult, "success");
      assert.equal(meta(img, branch, domainDir).PUUID, snap);
      assert.deepEqual(await problems(domainDir), []);
      write(volPath(img, branch, domainDir), 0xa5);
      await b.stop();

      // Commit of the preview: the old leaf is deleted; the node dies once it is ILLEGAL.
      const c = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn", VELA_TEST_FAULTS: "deleteVolume.afterIllegal" } });
      extra.push(c);
      await rejoinPool(c, p, 90_000);
      const del = await c.xml("deleteVolume", p.sd, p.sp, img, [leaf]);
      assert.equal(del.status.code, 0, del.status.message);
      await waitExit(c, 30_000);
      assert.equal(meta(img, leaf, domainDir).LEGALITY, "ILLEGAL", "the node died with the old leaf ILLEGAL");

      const e = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn" } });
      extra.push(e);
      await rejoinPool(e, p, 90_000);
      const dst = (await e.json("Task.getStatus", { taskID: del.uuid })) as { taskState: string; message: string };
      assert.equal(dst.taskState, "finished", dst.message);
      assert.ok(!existsSync(`${volPath(img, leaf, domainDir)}.meta`) && !existsSync(volPath(img, leaf, domainDir)), "the delete was finished");
      assert.equal(meta(img, snap, domainDir).VOLTYPE, "INTERNAL", "still the parent of the branch");
      assert.ok(reads(volPath(img, branch, domainDir), 0xa5));
      assert.deepEqual(await problems(domainDir), []);
      await e.stop();
    } finally {
      for (const n of extra) await n.kill("SIGKILL").catch(() => {});
    }
  });
});

describe("the checker on branches", () => {
  test("a branch whose metadata names another parent than its qcow2 backing file is reported", async () => {
    const { img, snap, leaf } = await chain();
    const preview = randomUUID();
    await task(createVolume(img, preview, snap), "preview");
    const metaPath = `${volPath(img, preview)}.meta`;
    const good = readFileSync(metaPath, "utf8");
    try {
      // The metadata says preview ← leaf (leaf would then be INTERNAL with a LEAF role: two lies).
      writeFileSync(metaPath, good.replace(`PUUID=${snap}`, `PUUID=${leaf}`));
      const found = (await problems()).join("\n");
      assert.match(found, new RegExp(`metadata chain ${preview}<-${leaf}.* but qemu-img sees ${preview}<-${snap}`));
      assert.match(found, /LEAF with children/);
      // A second base in one image: preview claims no parent at all.
      writeFileSync(metaPath, good.replace(`PUUID=${snap}`, `PUUID=${BLANK}`));
      assert.match((await problems()).join("\n"), new RegExp(`images/${img}: 2 base volumes`));
    } finally {
      writeFileSync(metaPath, good);
    }
    assert.deepEqual(await problems(), []);
  });
});
