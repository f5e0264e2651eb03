/**
 * Image operations through a real node: delete (via `_remove_me_`), extend, description and
 * legality, collapse copy into a template and thin clones on it (hard links), cold merge, domain
 * attach/activate and moving an image between domains. Guest-visible data is checked with
 * qemu-io patterns and `qemu-img compare`; every step ends with the on-disk checker.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { parseDomainMd, parseVolumeMd } from "../src/storage/metadata.js";
import { type LocalPool, type NodeProc, setupLocalPool, startNode, waitTask } from "./harness.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";

const MiB = 2 ** 20;
const SIZE = 64 * MiB;

let node: NodeProc;
let pool: LocalPool;
const scratch = mkdtempSync(join(tmpdir(), "vela-img-scratch-"));

before(async () => {
  node = await startNode({ env: { VELA_LOG_LEVEL: "warn", VELA_DOMAIN_MONITOR_MS: "300" } });
  pool = await setupLocalPool(node);
});
after(async () => {
  // Whatever the tests did, the domain they leave behind must pass the on-disk checker.
  if (pool) assert.deepEqual((await checkFileDomain(pool.domainDir)).problems, [], "final on-disk check");
  await node?.stop();
});

type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

async function task(r: Resp | Promise<Resp>, what = "task"): Promise<void> {
  const res = await r;
  assert.equal(res.status.code, 0, `${what}: ${res.status.message}`);
  const st = await waitTask(node, res.uuid as string);
  assert.equal(st.taskResult, "success", `${what}: ${st.message}`);
}

function volPath(img: string, vol: string, domainDir = pool.domainDir): string {
  return join(domainDir, "images", img, vol);
}

function meta(img: string, vol: string, domainDir = pool.domainDir) {
  return parseVolumeMd(readFileSync(`${volPath(img, vol, domainDir)}.meta`, "utf8"));
}

async function createVolume(img: string, vol: string, parent = BLANK, parentImg = BLANK, size = SIZE): Promise<void> {
  await task(node.xml("createVolume", pool.sdUUID, pool.spUUID, img, size, 4, 2, "DATA", vol, "", parentImg, parent), "createVolume");
}

/** Writes a byte pattern into a (qcow2) volume as a guest would. */
function write(path: string, pattern: number, offset: number, len = MiB): void {
  execFileSync("qemu-io", ["-f", "qcow2", "-c", `write -P ${pattern} ${offset} ${len}`, path], { stdio: "ignore" });
}

/** The guest-visible content of a chain, flattened to a raw file. */
function flatten(path: string, format = "qcow2"): string {
  const out = join(scratch, randomUUID());
  execFileSync("qemu-img", ["convert", "-f", format, "-O", "raw", path, out]);
  return out;
}

function sameContent(a: string, b: string, fa = "raw", fb = "qcow2"): boolean {
  try {
    execFileSync("qemu-img", ["compare", "-f", fa, "-F", fb, a, b], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function assertClean(domainDir = pool.domainDir): Promise<void> {
  assert.deepEqual((await checkFileDomain(domainDir)).problems, []);
}

/** base ← top with distinct data in each; returns ids. */
async function twoLayerImage(): Promise<{ img: string; base: string; top: string }> {
  const img = randomUUID();
  const base = randomUUID();
  const top = randomUUID();
  await createVolume(img, base);
  write(volPath(img, base), 0x11, 0);
  write(volPath(img, base), 0x22, 8 * MiB);
  await createVolume(img, top, base);
  write(volPath(img, top), 0x33, 8 * MiB);
  write(volPath(img, top), 0x44, 16 * MiB);
  return { img, base, top };
}

describe("volume attributes", () => {
  test("extendVolumeSize grows a qcow2 leaf and bumps GEN; shrinking is refused", async () => {
    const img = randomUUID();
    const vol = randomUUID();
    await createVolume(img, vol);
    await task(node.xml("extendVolumeSize", pool.spUUID, pool.sdUUID, img, vol, 2 * SIZE), "extend");
    const q = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", volPath(img, vol)], { encoding: "utf8" }));
    assert.equal(q["virtual-size"], 2 * SIZE);
    const md = meta(img, vol);
    assert.equal(md.CAP, 2 * SIZE);
    assert.equal(md.GEN, 1);
    assert.equal(md.LEGALITY, "LEGAL");
    const r = await node.xml("extendVolumeSize", pool.spUUID, pool.sdUUID, img, vol, SIZE);
    assert.equal(r.status.code, 232);
    await assertClean();
  });

  test("setVolumeDescription and setVolumeLegality rewrite only their key", async () => {
    const img = randomUUID();
    const vol = randomUUID();
    await createVolume(img, vol);
    const before = meta(img, vol);
    assert.equal((await node.xml("setVolumeDescription", pool.sdUUID, pool.spUUID, img, vol, "new words")).status.code, 0);
    assert.equal((await node.xml("setVolumeLegality", pool.sdUUID, pool.spUUID, img, vol, "ILLEGAL")).status.code, 0);
    const after = meta(img, vol);
    assert.deepEqual({ ...after, DESCRIPTION: before.DESCRIPTION, LEGALITY: before.LEGALITY }, before);
    assert.equal(after.DESCRIPTION, "new words");
    assert.equal(after.LEGALITY, "ILLEGAL");
    const prep = await node.xml("prepareImage", pool.sdUUID, pool.spUUID, img, vol);
    assert.equal(prep.status.code, 227, "an ILLEGAL volume is not prepared");
    assert.equal((await node.xml("setVolumeLegality", pool.sdUUID, pool.spUUID, img, vol, "LEGAL")).status.code, 0);
    assert.equal((await node.xml("setVolumeDescription", pool.sdUUID, pool.spUUID, img, vol, "x".repeat(211))).status.code, 1000);
  });
});

describe("images", () => {
  test("deleteImage removes the whole chain and leaves no _remove_me_ behind", async () => {
    const { img } = await twoLayerImage();
    await task(node.xml("deleteImage", pool.sdUUID, pool.spUUID, img), "deleteImage");
    assert.ok(!existsSync(join(pool.domainDir, "images", img)));
    assert.deepEqual(readdirSync(join(pool.domainDir, "images")).filter((n) => n.startsWith("_remove_me_")), []);
    const list = (await node.json("StorageDomain.getImages", { storagedomainID: pool.sdUUID })) as string[];
    assert.ok(!list.includes(img));
    assert.equal((await node.xml("deleteImage", pool.sdUUID, pool.spUUID, img)).status.code, 268, "deleting it again: no such image");
    await assertClean();
  });

  test("copyImage collapses a chain into one SHARED template volume; thin clones hard-link it", async () => {
    const src = await twoLayerImage();
    const expected = flatten(volPath(src.img, src.top));
    const tImg = randomUUID();
    const tVol = randomUUID();
    await task(node.xml("copyImage", pool.sdUUID, pool.spUUID, "", src.img, src.top, tImg, tVol, "template", BLANK, 6, 0, 0), "copyImage");
    const tmd = meta(tImg, tVol);
    assert.equal(tmd.VOLTYPE, "SHARED");
    assert.equal(tmd.PUUID, BLANK);
    assert.equal(tmd.FORMAT, "COW");
    assert.ok(sameContent(expected, volPath(tImg, tVol)), "the collapsed copy reads as the source chain");
    const chainLen = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", "--backing-chain", volPath(tImg, tVol)], { encoding: "utf8" })).length;
    assert.equal(chainLen, 1, "no backing file left");

    // A VM disk on the template: a COW leaf in a new image over a hard link of the template volume.
    const cImg = randomUUID();
    const cVol = randomUUID();
    await createVolume(cImg, cVol, tVol, tImg);
    assert.equal(statSync(volPath(cImg, tVol)).ino, statSync(volPath(tImg, tVol)).ino, "template data is hard-linked");
    assert.ok(statSync(`${volPath(cImg, tVol)}.meta`).nlink >= 2);
    assert.equal(meta(cImg, cVol).PUUID, tVol);
    assert.ok(sameContent(expected, volPath(cImg, cVol)), "the clone reads the template's data");
    const prep = await node.xml("prepareImage", pool.sdUUID, pool.spUUID, cImg, cVol);
    assert.equal(prep.status.code, 0, prep.status.message);
    assert.deepEqual((prep.imgVolumesInfo as { volumeID: string }[]).map((v) => v.volumeID), [cVol, tVol]);
    await assertClean();

    // The template cannot go while a clone uses it; the clone can.
    assert.equal((await node.xml("deleteImage", pool.sdUUID, pool.spUUID, tImg)).status.code, 256);
    await task(node.xml("deleteImage", pool.sdUUID, pool.spUUID, cImg), "delete clone");
    assert.ok(existsSync(volPath(tImg, tVol)), "deleting a clone leaves the template's own files");
    await task(node.xml("deleteImage", pool.sdUUID, pool.spUUID, tImg), "delete template");
    await assertClean();
  });

  test("mergeSnapshots commits a snapshot into its parent without changing what the guest sees", async () => {
    const { img, base, top } = await twoLayerImage();
    const leaf = randomUUID();
    await createVolume(img, leaf, top);
    write(volPath(img, leaf), 0x55, 24 * MiB);
    const expected = flatten(volPath(img, leaf));
    // Merge the middle volume (top) into base: chain base ← leaf.
    await task(node.xml("mergeSnapshots", pool.sdUUID, pool.spUUID, "", img, base, top), "mergeSnapshots");
    assert.ok(!existsSync(volPath(img, top)) && !existsSync(`${volPath(img, top)}.meta`));
    assert.equal(meta(img, leaf).PUUID, base);
    assert.equal(meta(img, base).VOLTYPE, "INTERNAL");
    assert.equal(meta(img, base).LEGALITY, "LEGAL");
    assert.ok(sameContent(expected, volPath(img, leaf)), "guest-visible data unchanged");
    // Merging the leaf into base makes base the leaf.
    await task(node.xml("mergeSnapshots", pool.sdUUID, pool.spUUID, "", img, base, leaf), "merge leaf");
    assert.equal(meta(img, base).VOLTYPE, "LEAF");
    assert.ok(sameContent(expected, volPath(img, base)));
    const bad = await node.xml("mergeSnapshots", pool.sdUUID, pool.spUUID, "", img, base, randomUUID());
    assert.equal(bad.status.code, 201);
    await assertClean();
  });
});

describe("domains in a pool", () => {
  let dir2: string;
  let sd2: string;

  test("a second domain is attached and activated; the pool view links it", async () => {
    dir2 = mkdtempSync(join(tmpdir(), "vela-sd2-"));
    sd2 = randomUUID();
    assert.equal((await node.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: dir2 }])).status.code, 0);
    assert.equal((await node.xml("createStorageDomain", 4, sd2, "second", dir2, 1, 5)).status.code, 0);
    assert.equal((await node.xml("attachStorageDomain", sd2, pool.spUUID)).status.code, 0);
    assert.equal((await node.xml("activateStorageDomain", sd2, pool.spUUID)).status.code, 0);
    const mmd = parseDomainMd(readFileSync(join(pool.domainDir, "dom_md/metadata"), "utf8")).md;
    assert.equal(mmd.POOL_DOMAINS, `${pool.sdUUID}:Active,${sd2}:Active`);
    assert.equal(parseDomainMd(readFileSync(join(dir2, sd2, "dom_md/metadata"), "utf8")).md.POOL_UUID, pool.spUUID);
    assert.ok(existsSync(join(node.runDir, "data-center", pool.spUUID, sd2, "dom_md/metadata")));
    const list = (await node.json("Host.getStorageDomains", { storagepoolID: pool.spUUID })) as string[];
    assert.deepEqual([...list].sort(), [pool.sdUUID, sd2].sort());
  });

  test("moveImage copies a chain volume by volume to the other domain and removes the source", async () => {
    const { img, base, top } = await twoLayerImage();
    const expected = flatten(volPath(img, top));
    await task(node.xml("moveImage", pool.spUUID, pool.sdUUID, sd2, img, "", 2), "moveImage");
    const dst = join(dir2, sd2);
    assert.ok(!existsSync(join(pool.domainDir, "images", img)), "source gone");
    assert.equal(meta(img, top, dst).PUUID, base);
    assert.equal(meta(img, base, dst).VOLTYPE, "INTERNAL");
    assert.equal(meta(img, top, dst).DOMAIN, sd2);
    assert.ok(sameContent(expected, volPath(img, top, dst)), "guest-visible data moved intact");
    const chain = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", "--backing-chain", volPath(img, top, dst)], { encoding: "utf8" })) as { "backing-filename"?: string }[];
    assert.equal(chain[0]["backing-filename"], base);
    await assertClean(dst);
    await assertClean();
  });

  test("the master cannot be detached; an active domain must be deactivated first", async () => {
    assert.equal((await node.xml("detachStorageDomain", pool.sdUUID, pool.spUUID, BLANK, 1)).status.code, 383);
    assert.equal((await node.xml("detachStorageDomain", sd2, pool.spUUID, BLANK, 1)).status.code, 381);
    assert.equal((await node.xml("deactivateStorageDomain", sd2, pool.spUUID, pool.sdUUID, 1)).status.code, 0);
    assert.equal((await node.xml("detachStorageDomain", sd2, pool.spUUID, pool.sdUUID, 1)).status.code, 0);
    assert.equal(parseDomainMd(readFileSync(join(dir2, sd2, "dom_md/metadata"), "utf8")).md.POOL_UUID, "");
    assert.equal(parseDomainMd(readFileSync(join(pool.domainDir, "dom_md/metadata"), "utf8")).md.POOL_DOMAINS, `${pool.sdUUID}:Active`);
    assert.ok(!existsSync(join(node.runDir, "data-center", pool.spUUID, sd2)));
  });

  test("the domain monitor reports each domain valid with its last check and delay", async () => {
    const deadline = Date.now() + 5000;
    let stats: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      stats = (await node.json("StorageDomain.getStats", { storagedomainID: pool.sdUUID })) as Record<string, unknown>;
      if (stats.valid !== undefined) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(stats.valid, true);
    assert.ok(Number(stats.lastCheck) < 5, `lastCheck ${stats.lastCheck}`);
    assert.ok(Number(stats.delay) >= 0);
  });
});
