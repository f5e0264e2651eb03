/**
 * The README's Python example (examples/create_volume.py, standard library xmlrpc.client only)
 * creates a thin qcow2 volume on a real node; the result is checked on disk with qemu-img and an
 * independent reader of VDSM's metadata format.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROOT } from "@vela/cli/paths";
import { type NodeProc, startNode } from "@vela/node/test/harness";
import { testPki } from "@vela/node/test/tls";
import { type LocalPool, parseVolumeMeta, qemuImgInfo, readDomainMetadata, setupLocalPool } from "./support/storage.js";
import { BLANK_UUID } from "@vela/protocol/ids";

let node: NodeProc;
let pool: LocalPool;
before(async () => {
  node = await startNode();
  pool = await setupLocalPool(node);
});
after(async () => node?.stop());

test("README's Python script creates a 1 GiB thin qcow2 volume in VDSM's format", () => {
  const pki = testPki();
  const tls = ["--ca", join(pki, "ca.pem"), "--cert", join(pki, "client.pem"), "--key", join(pki, "client.key")];
  const out = execFileSync("python3", [join(ROOT, "examples/create_volume.py"), node.url, "--size", String(2 ** 30), "--domain", pool.sdUUID, ...tls], {
    encoding: "utf8",
  });
  const kv = Object.fromEntries(out.trim().split("\n").map((l) => l.split("=", 2) as [string, string]));
  assert.equal(kv.domain, pool.sdUUID);
  assert.equal(kv.pool, pool.spUUID);
  assert.ok(existsSync(kv.path!), `volume path ${kv.path} exists`);

  const info = qemuImgInfo(kv.path!);
  assert.equal(info.format, "qcow2");
  assert.equal(info["virtual-size"], 2 ** 30);
  assert.ok(info["actual-size"] < 10 * 2 ** 20, "thin: almost nothing allocated");

  // The volume lives where VDSM would put it, with its .meta and .lease beside it.
  const volPath = join(pool.domainDir, "images", kv.image!, kv.volume!);
  assert.ok(existsSync(volPath), `volume at ${volPath}`);
  assert.ok(existsSync(`${volPath}.lease`));
  const meta = parseVolumeMeta(readFileSync(`${volPath}.meta`, "utf8"));
  assert.equal(meta.CAP, String(2 ** 30));
  assert.equal(meta.FORMAT, "COW");
  assert.equal(meta.TYPE, "SPARSE");
  assert.equal(meta.VOLTYPE, "LEAF");
  assert.equal(meta.LEGALITY, "LEGAL");
  assert.equal(meta.DOMAIN, pool.sdUUID);
  assert.equal(meta.IMAGE, kv.image);
  assert.equal(meta.PUUID, BLANK_UUID);
  assert.equal(meta.DESCRIPTION, "created by create_volume.py");
  assert.equal(meta.DISKTYPE, "DATA");

  const md = readDomainMetadata(pool.domainDir);
  assert.ok(md.checksum, "domain metadata is sealed with _SHA_CKSUM");
  assert.equal(md.checksum, md.computed, "checksum verifies");
  assert.equal(md.keys.SDUUID, pool.sdUUID);
  assert.equal(md.keys.TYPE, "LOCALFS");
  assert.equal(md.keys.ROLE, "Master");
  assert.equal(md.keys.CLASS, "Data");
  assert.equal(md.keys.VERSION, "5");
  assert.equal(md.keys.POOL_UUID, pool.spUUID);
  assert.match(md.keys.POOL_DOMAINS ?? "", new RegExp(`${pool.sdUUID}:Active`));
});
