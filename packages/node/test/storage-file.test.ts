/**
 * File storage domains through a real node process: a LOCALFS domain, a pool, the SPM (safelease),
 * volumes in both formats and snapshots, checked on disk (VDSM's layout, metadata seals, volume
 * metadata, qemu-img's view of each chain) and refused bad input that must leave the disk as it
 * was.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, realpathSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { domainChecksum, formatDomainMd, parseDomainMd, parseVolumeMd } from "../src/storage/metadata.js";
import { VDSM_EXAMPLE_MD } from "./fixtures.js";
import { type LocalPool, type NodeProc, startNode, waitTask } from "./harness.js";
import { usePoolNode } from "./pool-fixture.js";
import { snapshotTree } from "./tree.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

let node: NodeProc;
let pool: LocalPool;

usePoolNode((n, p) => {
  node = n;
  pool = p;
});

interface CreateArgs {
  img?: string;
  vol?: string;
  size?: number | string;
  format?: number | string;
  prealloc?: number | string;
  parentImg?: string;
  parentVol?: string;
  desc?: string;
}

/** createVolume over XML-RPC with VDSM's positional parameters. */
function createVolumeXml(a: CreateArgs) {
  return node.xml(
    "createVolume",
    pool.sdUUID,
    pool.spUUID,
    a.img ?? randomUUID(),
    a.size ?? GiB,
    a.format ?? 4,
    a.prealloc ?? 2,
    "DATA",
    a.vol ?? randomUUID(),
    a.desc ?? "test volume",
    a.parentImg ?? BLANK,
    a.parentVol ?? BLANK,
  );
}

async function createVolume(a: CreateArgs): Promise<{ img: string; vol: string }> {
  const img = a.img ?? randomUUID();
  const vol = a.vol ?? randomUUID();
  const r = await createVolumeXml({ ...a, img, vol });
  assert.equal(r.status.code, 0, r.status.message);
  const st = await waitTask(node, r.uuid as string);
  assert.equal(st.taskResult, "success", st.message);
  return { img, vol };
}

function qemuInfo(path: string): { format: string; "virtual-size": number; "actual-size": number; "format-specific"?: { data?: { compat?: string } } } {
  return JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path], { encoding: "utf8" }));
}

function volPath(img: string, vol: string): string {
  return join(pool.domainDir, "images", img, vol);
}

async function assertDomainOk(): Promise<void> {
  const rep = await checkFileDomain(pool.domainDir);
  assert.deepEqual(rep.problems, [], "on-disk check");
}

describe("metadata format", () => {
  test("the domain checksum matches VDSM's own example (filesd_metadata_test.py)", () => {
    const md = { ...VDSM_EXAMPLE_MD };
    assert.equal(domainChecksum(md), "9336f77705ff9e3d5faf65c4d0dc818a29de458d");
    const text = formatDomainMd(md);
    assert.ok(text.startsWith("ALIGNMENT=1048576\nBLOCK_SIZE=512\n"));
    assert.ok(text.endsWith("VERSION=5\n_SHA_CKSUM=9336f77705ff9e3d5faf65c4d0dc818a29de458d\n"));
    assert.deepEqual(parseDomainMd(text).md, md);
  });

  test("a broken seal is refused; a missing one is trusted", () => {
    const text = formatDomainMd({ SDUUID: "x", DESCRIPTION: "a" });
    assert.throws(() => parseDomainMd(text.replace("DESCRIPTION=a", "DESCRIPTION=b")), /seal is broken/);
    assert.deepEqual(parseDomainMd("DESCRIPTION=b\nSDUUID=x\n").md, { DESCRIPTION: "b", SDUUID: "x" });
  });
});

describe("domain and pool", () => {
  test("createStorageDomain + createStoragePool + spmStart leave VDSM's layout and a sealed master", async () => {
    for (const f of ["metadata", "ids", "leases", "inbox", "outbox"]) assert.ok(existsSync(join(pool.domainDir, "dom_md", f)), f);
    assert.equal(statSync(join(pool.domainDir, "dom_md/inbox")).size, 16 * MiB);
    assert.ok(statSync(join(pool.domainDir, "master/tasks")).isDirectory());
    assert.ok(statSync(join(pool.domainDir, "master/vms")).isDirectory());
    const { md, checksum } = parseDomainMd(readFileSync(join(pool.domainDir, "dom_md/metadata"), "utf8"));
    assert.ok(checksum, "sealed");
    assert.equal(md.SDUUID, pool.sdUUID);
    assert.equal(md.ROLE, "Master");
    assert.equal(md.POOL_UUID, pool.spUUID);
    assert.equal(md.POOL_DOMAINS, `${pool.sdUUID}:Active`);
    assert.equal(md.POOL_SPM_ID, "1");
    assert.equal(md.POOL_SPM_LVER, "0");
    assert.equal(md.VERSION, "5");
    assert.equal(md.TYPE, "LOCALFS");
    assert.equal(md.REMOTE_PATH, pool.dir);
    // The SPM lease record names this host.
    const rec = readFileSync(join(pool.domainDir, "dom_md/leases")).subarray(0, 16).toString("latin1");
    assert.match(rec, /^h1[.-]/, "the record names host 1");
    await assertDomainOk();
  });

  test("the pool view links the domain and mastersd under the run dir", async () => {
    const dc = join(node.runDir, "data-center", pool.spUUID);
    assert.equal(realpathSync(join(dc, pool.sdUUID)), realpathSync(pool.domainDir));
    assert.equal(realpathSync(join(dc, "mastersd")), realpathSync(pool.domainDir));
    const mnt = join(node.runDir, "data-center/mnt", pool.dir.replace(/_/g, "__").replace(/\//g, "_"));
    assert.equal(realpathSync(mnt), realpathSync(pool.dir));
  });

  test("info verbs describe the domain and the pool", async () => {
    const sp = (await node.json("StoragePool.getSpmStatus", { storagepoolID: pool.spUUID })) as Record<string, unknown>;
    assert.deepEqual(sp, { spmStatus: "SPM", spmLver: 0, spmId: 1 });
    const info = (await node.json("StorageDomain.getInfo", { storagedomainID: pool.sdUUID })) as Record<string, unknown>;
    assert.equal(info.uuid, pool.sdUUID);
    assert.equal(info.role, "Master");
    assert.equal(info.class, "Data");
    assert.deepEqual(info.pool, [pool.spUUID]);
    const stats = (await node.json("StorageDomain.getStats", { storagedomainID: pool.sdUUID })) as Record<string, string>;
    assert.ok(Number(stats.disktotal) > 0 && Number(stats.diskfree) > 0 && Number(stats.diskfree) <= Number(stats.disktotal));
    const pinfo = (await node.json("StoragePool.getInfo", { storagepoolID: pool.spUUID })) as Record<string, unknown>;
    assert.equal(pinfo.master_uuid, pool.sdUUID);
    assert.equal(pinfo.spm_id, 1);
    assert.deepEqual(await node.json("Host.getStorageDomains", { storagepoolID: pool.spUUID }), [pool.sdUUID]);
  });
});

describe("volumes", () => {
  test("COW+SPARSE: a qcow2 (compat 1.1) of the asked size, LEGAL sorted .meta, a lease file", async () => {
    const { img, vol } = await createVolume({ size: GiB, format: 4, prealloc: 2, desc: "thin" });
    const q = qemuInfo(volPath(img, vol));
    assert.equal(q.format, "qcow2");
    assert.equal(q["virtual-size"], GiB);
    assert.equal(q["format-specific"]?.data?.compat, "1.1");
    const metaText = readFileSync(`${volPath(img, vol)}.meta`, "utf8");
    assert.ok(Buffer.byteLength(metaText) <= 512 && metaText.endsWith("EOF\n"));
    const md = parseVolumeMd(metaText);
    assert.deepEqual(
      { CAP: md.CAP, FORMAT: md.FORMAT, TYPE: md.TYPE, VOLTYPE: md.VOLTYPE, LEGALITY: md.LEGALITY, PUUID: md.PUUID, IMAGE: md.IMAGE, DOMAIN: md.DOMAIN, GEN: md.GEN, DESCRIPTION: md.DESCRIPTION },
      { CAP: GiB, FORMAT: "COW", TYPE: "SPARSE", VOLTYPE: "LEAF", LEGALITY: "LEGAL", PUUID: BLANK, IMAGE: img, DOMAIN: pool.sdUUID, GEN: 0, DESCRIPTION: "thin" },
    );
    assert.equal(statSync(`${volPath(img, vol)}.lease`).size, MiB);
    const info = (await node.json("Volume.getInfo", { storagedomainID: pool.sdUUID, storagepoolID: pool.spUUID, imageID: img, volumeID: vol })) as Record<string, unknown>;
    assert.equal(info.format, "COW");
    assert.equal(info.type, "SPARSE");
    assert.equal(info.capacity, String(GiB));
    assert.equal(info.legality, "LEGAL");
    assert.equal(info.status, "OK");
    assert.ok(Number(info.truesize) < 4 * MiB);
    await assertDomainOk();
  });

  test("RAW+PREALLOCATED is allocated in full; RAW+SPARSE is not", async () => {
    const pre = await createVolume({ size: 64 * MiB, format: 5, prealloc: 1 });
    const qp = qemuInfo(volPath(pre.img, pre.vol));
    assert.equal(qp.format, "raw");
    assert.equal(qp["virtual-size"], 64 * MiB);
    assert.ok(qp["actual-size"] >= 64 * MiB, `allocated ${qp["actual-size"]}`);
    const sparse = await createVolume({ size: 64 * MiB, format: "RAW", prealloc: "SPARSE" });
    const qs = qemuInfo(volPath(sparse.img, sparse.vol));
    assert.equal(qs.format, "raw");
    assert.equal(qs["virtual-size"], 64 * MiB);
    assert.ok(qs["actual-size"] < MiB);
    await assertDomainOk();
  });

  test("sizes are rounded up to 4 KiB, as VDSM does", async () => {
    const { img, vol } = await createVolume({ size: "1000000", format: 4 });
    assert.equal(qemuInfo(volPath(img, vol))["virtual-size"], 1003520);
    assert.equal(parseVolumeMd(readFileSync(`${volPath(img, vol)}.meta`, "utf8")).CAP, 1003520);
  });

  test("a retried createVolume (same volume UUID, same request) is idempotent", async () => {
    const img = randomUUID();
    const vol = randomUUID();
    const a = await createVolumeXml({ img, vol });
    const b = await createVolumeXml({ img, vol });
    assert.equal(a.status.code, 0);
    assert.equal(b.status.code, 0);
    assert.equal(a.uuid, b.uuid, "the same task answers both");
    await waitTask(node, a.uuid as string);
    const c = await createVolumeXml({ img, vol });
    assert.equal(c.status.code, 0, "a retry after completion also succeeds");
    assert.equal((await waitTask(node, c.uuid as string)).taskResult, "success");
    const d = await createVolumeXml({ img, vol, size: 2 * GiB });
    assert.equal(d.status.code, 212, "a different request for the same volume is VolumeAlreadyExists");
    assert.deepEqual(await node.json("StorageDomain.getVolumes", { storagedomainID: pool.sdUUID, storagepoolID: pool.spUUID, imageID: img }), [vol]);
  });

  test("a snapshot is a COW leaf backed by its parent's bare UUID; the parent becomes INTERNAL", async () => {
    const base = await createVolume({ size: GiB });
    const top = await createVolume({ img: base.img, parentImg: base.img, parentVol: base.vol });
    const chain = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", "--backing-chain", volPath(base.img, top.vol)], { encoding: "utf8" })) as {
      filename: string;
      "backing-filename"?: string;
    }[];
    assert.equal(chain.length, 2);
    assert.equal(chain[0]["backing-filename"], base.vol, "backing file named by bare UUID");
    assert.equal(parseVolumeMd(readFileSync(`${volPath(base.img, base.vol)}.meta`, "utf8")).VOLTYPE, "INTERNAL");
    assert.equal(parseVolumeMd(readFileSync(`${volPath(base.img, top.vol)}.meta`, "utf8")).PUUID, base.vol);
    const prep = (await node.xml("prepareImage", pool.sdUUID, pool.spUUID, base.img, top.vol)) as Record<string, unknown> & { status: { code: number } };
    assert.equal(prep.status.code, 0);
    assert.ok(String(prep.path).startsWith(node.runDir), "prepared path is under the run dir's pool view");
    assert.equal(realpathSync(String(prep.path)), realpathSync(volPath(base.img, top.vol)));
    assert.deepEqual(
      (prep.imgVolumesInfo as { volumeID: string }[]).map((v) => v.volumeID),
      [top.vol, base.vol],
    );
    await assertDomainOk();

    // The parent cannot go while its child exists; deleting the leaf makes it the leaf again.
    const refused = await node.xml("deleteVolume", pool.sdUUID, pool.spUUID, base.img, [base.vol]);
    assert.equal(refused.status.code, 204);
    const del = await node.xml("deleteVolume", pool.sdUUID, pool.spUUID, base.img, [top.vol]);
    assert.equal(del.status.code, 0);
    assert.equal((await waitTask(node, del.uuid as string)).taskResult, "success");
    assert.ok(!existsSync(volPath(base.img, top.vol)));
    assert.equal(parseVolumeMd(readFileSync(`${volPath(base.img, base.vol)}.meta`, "utf8")).VOLTYPE, "LEAF");
    await assertDomainOk();
  });
});

describe("bad input changes nothing on disk", () => {
  const cases: [string, () => Promise<{ status: { code: number } }>][] = [
    ["non-UUID volume id", () => createVolumeXml({ vol: "not-a-uuid" })],
    ["'../x' as image id", () => createVolumeXml({ img: "../x" })],
    ["negative size", () => createVolumeXml({ size: "-1" })],
    ["absurd size (2^60)", () => createVolumeXml({ size: String(2 ** 60) })],
    ["zero size", () => createVolumeXml({ size: 0 })],
    ["unknown format", () => createVolumeXml({ format: 3 })],
    ["unknown allocation", () => createVolumeXml({ prealloc: 9 })],
    ["RAW with a parent", () => createVolumeXml({ format: 5, parentVol: randomUUID() })],
    ["COW on a missing parent", () => createVolumeXml({ parentVol: randomUUID() })],
    ["unknown domain", () => node.xml("createVolume", randomUUID(), pool.spUUID, randomUUID(), GiB, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK)],
    ["unknown pool", () => node.xml("createVolume", pool.sdUUID, randomUUID(), randomUUID(), GiB, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK)],
    ["unknown disk type", () => node.xml("createVolume", pool.sdUUID, pool.spUUID, randomUUID(), GiB, 4, 2, "BOGUS", randomUUID(), "", BLANK, BLANK)],
    ["initial size on a file COW volume", () => node.xml("createVolume", pool.sdUUID, pool.spUUID, randomUUID(), GiB, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK, MiB)],
    ["relative connection path", () => node.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: "x/../y" }]).then(statusOfList)],
    ["connection path with '..'", () => node.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: `${pool.dir}/../etc` }]).then(statusOfList)],
    ["a second domain on the same mount", () => node.xml("createStorageDomain", 4, randomUUID(), "again", pool.dir, 1, 5)],
    ["domain on an unconnected path", () => node.xml("createStorageDomain", 4, randomUUID(), "nowhere", mkdtempSync(join(tmpdir(), "vela-nc-")), 1, 5)],
    ["domain version 3", () => node.xml("createStorageDomain", 4, randomUUID(), "old", pool.dir, 1, 3)],
    ["delete of a missing volume", () => node.xml("deleteVolume", pool.sdUUID, pool.spUUID, randomUUID(), [randomUUID()])],
  ];
  for (const [name, call] of cases) {
    test(name, async () => {
      const before = snapshotTree(pool.domainDir);
      const r = await call();
      assert.notEqual(r.status.code, 0, `${name} must fail`);
      await new Promise((res) => setTimeout(res, 50)); // a task started by mistake would show by now
      assert.deepEqual(snapshotTree(pool.domainDir), before);
    });
  }
});

function statusOfList(r: { status: { code: number }; statuslist?: unknown }): { status: { code: number } } {
  const list = r.statuslist as { status: number }[] | undefined;
  return { status: { code: r.status.code || (list?.[0]?.status ?? 0) } };
}

describe("SPM", () => {
  test("a host that is not SPM refuses metadata verbs (SpmStatusError) and writes nothing", async () => {
    const other = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
    try {
      const c = await other.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: pool.dir }]);
      assert.equal(c.status.code, 0);
      const cp = await other.xml("connectStoragePool", pool.spUUID, 2, "", pool.sdUUID, 1);
      assert.equal(cp.status.code, 0, cp.status.message);
      const st = (await other.json("StoragePool.getSpmStatus", { storagepoolID: pool.spUUID })) as Record<string, unknown>;
      assert.deepEqual(st, { spmStatus: "Free", spmLver: 0, spmId: 1 }, "sees host 1 as SPM from the master metadata");
      const before = snapshotTree(pool.domainDir);
      const r = await other.xml("createVolume", pool.sdUUID, pool.spUUID, randomUUID(), GiB, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK);
      assert.equal(r.status.code, 654);
      assert.deepEqual(snapshotTree(pool.domainDir), before);
      // A non-SPM host may still read and prepare.
      const list = (await other.json("StorageDomain.getImages", { storagedomainID: pool.sdUUID })) as string[];
      assert.ok(list.length > 0);
    } finally {
      await other.stop();
    }
  });

  test("connectStoragePool with a wrong master version is refused", async () => {
    const r = await node.xml("connectStoragePool", pool.spUUID, 1, "", pool.sdUUID, 7);
    assert.equal(r.status.code, 324);
  });

  test("spmStop frees the role: POOL_SPM_ID=-1, lease record free, metadata verbs refused", async () => {
    const r = await node.xml("spmStop", pool.spUUID);
    assert.equal(r.status.code, 0, r.status.message);
    const st = (await node.json("StoragePool.getSpmStatus", { storagepoolID: pool.spUUID })) as Record<string, unknown>;
    assert.deepEqual(st, { spmStatus: "Free", spmLver: 0, spmId: -1 });
    const rec = readFileSync(join(pool.domainDir, "dom_md/leases")).subarray(0, 16).toString("latin1");
    assert.equal(rec, "------FREE------");
    const c = await createVolumeXml({});
    assert.equal(c.status.code, 654);
    // Taking the role again bumps LVER.
    const t = await node.xml("spmStart", pool.spUUID, -1, "-1", 0, false);
    assert.equal((await waitTask(node, t.uuid as string)).taskResult, "success");
    assert.deepEqual(await node.json("StoragePool.getSpmStatus", { storagepoolID: pool.spUUID }), { spmStatus: "SPM", spmLver: 1, spmId: 1 });
    await assertDomainOk();
  });
});
