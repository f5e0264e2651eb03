/**
 * Block storage domains through a real node process, on LUNs that are loop devices over sparse
 * files in this test's TMPDIR (block-support.ts):
 * - getDeviceList lists exactly the LUNs under the node's LUN directory, free, with their sizes;
 * - createVG makes a PV and a VG named after the domain, tagged UNREADY; getVGInfo describes it;
 * - createStorageDomain (ISCSI, Data) lays out VDSM's block domain: the RHAT_storage_domain tag,
 *   metadata as MDT_ tags with a seal computed here independently, the special LVs in VDSM's
 *   sizes, each one segment;
 * - bad input (unknown, malformed, too small or used LUNs, a VG that is not ours, a bad VG UUID)
 *   answers a clear error and changes nothing on the LUNs.
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { DeviceListResult, VgInfoResult } from "@vela/protocol";
import { LunSet, type TestLun } from "./block-support.js";
import { type NodeProc, startNode } from "./harness.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

let node: NodeProc;
const luns = new LunSet();
let big: TestLun;
let small: TestLun;
const sd = randomUUID();

async function ok(r: Resp | Promise<Resp>, what: string): Promise<Resp> {
  const res = await r;
  assert.equal(res.status.code, 0, `${what}: ${res.status.message}`);
  return res;
}

/** SHA-1 over sorted KEY=VALUE strings, from storage-format.md (not Vela's code). */
function sealOf(md: Record<string, string>): string {
  const h = createHash("sha1");
  for (const k of Object.keys(md).sort()) h.update(`${k}=${md[k]}`);
  return h.digest("hex");
}

function decode(s: string): string {
  return s.replace(/&(\d+)&/g, (_, n: string) => String.fromCodePoint(Number(n)));
}

function vgTags(vg: string): string[] {
  return luns.lvm("vgs", "--noheadings", "-o", "vg_tags", vg).trim().split(",").filter(Boolean);
}

/** What a LUN holds, for "nothing changed" checks: PV label, VG and LVs as lvm reports them. */
function lunState(): string {
  return [luns.lvm("pvs", "--noheadings", "-o", "pv_name,vg_name,pv_uuid"), luns.lvm("lvs", "--noheadings", "-o", "vg_name,lv_name,lv_tags,seg_pe_ranges"), luns.lvm("vgs", "--noheadings", "-o", "vg_name,vg_tags")].join("|");
}

async function devList(): Promise<ReturnType<typeof DeviceListResult.parse>["devList"]> {
  const r = await ok(node.xml("getDeviceList"), "getDeviceList");
  return DeviceListResult.parse(r).devList;
}

before(async () => {
  big = luns.add("lun-big", 6 * GiB);
  small = luns.add("lun-small", 2 * GiB);
  node = await startNode({ env: { VELA_LOG_LEVEL: "warn", VELA_NODE_LUN_DIRS: luns.dir, VELA_NODE_BLOCK_PATH: "loop" } });
});

after(async () => {
  await node?.stop();
  luns.cleanup();
});

describe("LUNs and volume groups", () => {
  test("getDeviceList lists the LUNs under the node's LUN directory, free, with their sizes", async () => {
    const list = await devList();
    assert.equal(list.length, 2, `expected only this test's two LUNs: ${JSON.stringify(list)}`);
    const byDev = new Map(list.map((l) => [`/dev/${l.pathstatus[0]!.physdev}`, l]));
    assert.equal(byDev.get(big.device)?.capacity, String(6 * GiB));
    assert.equal(byDev.get(small.device)?.capacity, String(2 * GiB));
    for (const l of list) assert.equal(l.status, "free", `${l.GUID} should be free`);
    const json = (await node.json("Host.getDeviceList", {})) as unknown[];
    assert.equal(json.length, 2, "JSON-RPC answers the same list");
  });

  test("createVG on a LUN too small for a domain: VolumeGroupSizeError, the LUN untouched", async () => {
    const guid = (await devList()).find((l) => l.capacity === String(2 * GiB))!.GUID;
    const before = lunState();
    const r = await node.xml("createVG", randomUUID(), [guid], false);
    assert.equal(r.status.code, 504, r.status.message);
    assert.equal(lunState(), before);
    assert.equal((await devList()).find((l) => l.GUID === guid)?.status, "free");
  });

  test("createVG on an unknown or malformed GUID is refused", async () => {
    const before = lunState();
    const unknown = await node.xml("createVG", randomUUID(), ["vela0000000000000000000000000000"], false);
    assert.equal(unknown.status.code, 600, unknown.status.message);
    const bad = await node.xml("createVG", randomUUID(), ["../../dev/sda"], false);
    assert.notEqual(bad.status.code, 0);
    assert.match(bad.status.message, /GUID/);
    const notUuid = await node.xml("createVG", "my-vg", [(await devList())[0]!.GUID], false);
    assert.notEqual(notUuid.status.code, 0, "a VG name that is not a domain UUID is refused");
    assert.equal(lunState(), before);
  });

  let vgUUID = "";
  test("createVG makes a PV and a VG named after the domain, tagged UNREADY; getVGInfo describes it", async () => {
    const guid = (await devList()).find((l) => l.capacity === String(6 * GiB))!.GUID;
    vgUUID = (await ok(node.xml("createVG", sd, [guid], false), "createVG")).uuid as string;
    assert.deepEqual(vgTags(sd), ["RHAT_storage_domain_UNREADY"]);
    assert.equal(luns.lvm("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_extent_size", sd).trim(), String(128 * MiB));
    const lun = (await devList()).find((l) => l.GUID === guid)!;
    assert.equal(lun.status, "used");
    assert.equal(lun.vgUUID, vgUUID);
    const info = VgInfoResult.parse(await ok(node.xml("getVGInfo", vgUUID), "getVGInfo")).info;
    assert.equal(info.name, sd);
    assert.equal(info.state, "OK");
    assert.deepEqual(info.pvlist.map((p) => p.GUID), [guid]);
    assert.ok(Number(info.vgfree) > 5 * GiB, `vgfree ${info.vgfree}`);
  });

  test("createVG on a LUN already in a VG: PhysDevInitializationError, nothing changed", async () => {
    const guid = (await devList()).find((l) => l.status === "used")!.GUID;
    const before = lunState();
    const r = await node.xml("createVG", randomUUID(), [guid], true);
    assert.equal(r.status.code, 601, r.status.message);
    assert.equal(lunState(), before);
  });

  test("getVGInfo of an unknown VG: VolumeGroupDoesNotExist; of a malformed UUID: refused", async () => {
    assert.equal((await node.xml("getVGInfo", "aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg")).status.code, 506);
    assert.notEqual((await node.xml("getVGInfo", "x; rm -rf /")).status.code, 0);
  });

  describe("createStorageDomain on the VG", () => {
    test("bad input: a malformed VG UUID, a VG not named after the domain; nothing changes", async () => {
      const before = lunState();
      const bad = await node.xml("createStorageDomain", 3, sd, "blk", "not-a-vg-uuid", 1, 5);
      assert.equal(bad.status.code, 1000, bad.status.message);
      const other = await node.xml("createStorageDomain", 3, randomUUID(), "blk", vgUUID, 1, 5);
      assert.equal(other.status.code, 1000, other.status.message);
      assert.match(other.status.message, /not named after domain/);
      assert.equal(lunState(), before);
    });

    test("lays out VDSM's block domain: tags with the seal, special LVs in VDSM's sizes, one segment each", async () => {
      await ok(node.xml("createStorageDomain", 3, sd, "block domain", vgUUID, 1, 5), "createStorageDomain");
      const tags = vgTags(sd);
      assert.ok(tags.includes("RHAT_storage_domain"), `tags: ${tags.join(",")}`);
      assert.ok(!tags.includes("RHAT_storage_domain_UNREADY"));
      const md: Record<string, string> = {};
      let seal = "";
      for (const t of tags.filter((x) => x.startsWith("MDT_"))) {
        const kv = decode(t.slice(4));
        const i = kv.indexOf("=");
        if (kv.slice(0, i) === "_SHA_CKSUM") seal = kv.slice(i + 1);
        else md[kv.slice(0, i)] = kv.slice(i + 1);
      }
      assert.equal(seal, sealOf(md), "MDT__SHA_CKSUM seals the MDT_ keys");
      assert.deepEqual([md.SDUUID, md.TYPE, md.CLASS, md.DESCRIPTION, md.ROLE, md.VERSION, md.VGUUID], [sd, "ISCSI", "Data", "block domain", "Regular", "5", vgUUID]);
      assert.ok(tags.includes("MDT_DESCRIPTION=block&32&domain"), "a space is encoded as &32&");
      assert.match(md.PV0 ?? "", /^pv:vela[0-9a-f]+,uuid:[^,]+,pestart:0,pecount:\d+/);
      const lvs = luns.lvm("lvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", " ", "-o", "lv_name,lv_size,seg_pe_ranges", sd);
      const rows = new Map(lvs.trim().split("\n").map((l) => l.trim().split(" ")).map(([n, s, r]) => [n!, { size: Number(s), ranges: r! }]));
      const want: [string, number][] = [["metadata", 128], ["ids", 128], ["inbox", 128], ["outbox", 128], ["leases", 2048], ["xleases", 1024], ["master", 1024]];
      for (const [name, mib] of want) {
        const row = rows.get(name);
        assert.ok(row, `special LV ${name} missing: ${lvs}`);
        assert.equal(row.size, mib * MiB, `${name} size`);
        assert.match(row.ranges, /^\/dev\/loop\d+:\d+-\d+$/, `${name} is one segment`);
      }
    });

    test("the node reads it back: getStorageDomainInfo, getStorageDomainsList, getStorageDomainStats, no images", async () => {
      const info = (await ok(node.xml("getStorageDomainInfo", sd), "getStorageDomainInfo")).info as Record<string, unknown>;
      assert.deepEqual([info.uuid, info.type, info.class, info.name, info.role, info.version, info.vguuid], [sd, "ISCSI", "Data", "block domain", "Regular", "5", vgUUID]);
      assert.ok(((await ok(node.xml("getStorageDomainsList", "00000000-0000-0000-0000-000000000000"), "list")).domlist as string[]).includes(sd));
      const stats = (await ok(node.xml("getStorageDomainStats", sd), "stats")).stats as Record<string, string>;
      assert.equal(Number(stats.disktotal), 6 * GiB - 129 * MiB - ((6 * GiB - 129 * MiB) % (128 * MiB)), `disktotal ${stats.disktotal}`);
      assert.ok(Number(stats.diskfree) < Number(stats.disktotal));
      assert.deepEqual((await ok(node.xml("getImagesList", sd), "getImagesList")).imageslist, []);
    });

    test("createStorageDomain again on the same VG: refused, tags unchanged", async () => {
      const before = lunState();
      const r = await node.xml("createStorageDomain", 3, sd, "again", vgUUID, 1, 5);
      assert.notEqual(r.status.code, 0);
      assert.equal(lunState(), before);
    });

    test("a VG that is not a domain: not listed, not described, and not made into one without createVG's tag", async () => {
      // Made by hand on the small LUN: named like a domain, no tags.
      const fake = randomUUID();
      luns.lvm("pvcreate", "--yes", small.device);
      luns.lvm("vgcreate", "--physicalextentsize", "128m", fake, small.device);
      try {
        const fakeUuid = luns.lvm("vgs", "--noheadings", "-o", "vg_uuid", fake).trim();
        assert.equal((await node.xml("getStorageDomainInfo", fake)).status.code, 358, "a plain VG is not a domain");
        assert.ok(!((await ok(node.xml("getStorageDomainsList", "00000000-0000-0000-0000-000000000000"), "list")).domlist as string[]).includes(fake));
        const before = lunState();
        const r = await node.xml("createStorageDomain", 3, fake, "fake", fakeUuid, 1, 5);
        assert.equal(r.status.code, 500, r.status.message);
        assert.match(r.status.message, /not made by createVG/);
        assert.equal(lunState(), before, "the VG is untouched");
      } finally {
        luns.lvm("vgremove", "--force", "--yes", fake);
        luns.lvm("pvremove", "--yes", small.device);
      }
    });

    test("formatStorageDomain removes the domain, its VG and the PV label: the LUN is free again", async () => {
      await ok(node.xml("formatStorageDomain", sd, false), "formatStorageDomain");
      assert.equal(luns.lvm("vgs", "--noheadings", "-o", "vg_name").trim(), "", "no VG left");
      assert.equal(luns.lvm("pvs", "--noheadings", "-o", "pv_name").trim(), "", "no PV label left");
      assert.ok((await devList()).every((l) => l.status === "free"), "both LUNs free");
      assert.equal((await node.xml("getStorageDomainInfo", sd)).status.code, 358, "the domain is gone");
    });
  });
});
