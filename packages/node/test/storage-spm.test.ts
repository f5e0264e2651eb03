/**
 * The SPM lease (safelease on the master domain's dom_md/leases) between real node processes:
 * a host whose lease is taken stops acting as SPM by itself (self-fencing), and a new host can
 * take the role from a killed SPM once the lease has expired, bumping LVER. Short lease times
 * (5 s, renewal every 1 s) keep this file fast.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseDomainMd } from "../src/storage/metadata.js";
import { type NodeProc, startNode, waitTask } from "./harness.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";

const nodes: NodeProc[] = [];
after(async () => {
  for (const n of nodes) await n.kill("SIGKILL").catch(() => {});
});

async function ok<T extends { status: { code: number; message: string } }>(p: Promise<T>, what: string): Promise<T> {
  const r = await p;
  assert.equal(r.status.code, 0, `${what}: ${r.status.message}`);
  return r;
}

/** A LOCALFS pool with a 5 s lease; returns ids and the domain dir. */
async function shortLeasePool(node: NodeProc) {
  const dir = mkdtempSync(join(tmpdir(), "vela-spm-"));
  const sd = randomUUID();
  const sp = randomUUID();
  await ok(node.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: dir }]), "connect");
  await ok(node.xml("createStorageDomain", 4, sd, "spm test", dir, 1, 5), "createStorageDomain");
  await ok(node.xml("createStoragePool", 0, sp, "spm pool", sd, [sd], 1, "", 1, 5, 10, 3), "createStoragePool");
  return { dir, sd, sp, domainDir: join(dir, sd) };
}

async function becomeSpm(node: NodeProc, sp: string): Promise<number> {
  const started = Date.now();
  const t = await ok(node.xml("spmStart", sp, -1, "-1", 0, false), "spmStart");
  const st = await waitTask(node, t.uuid as string, 60_000);
  assert.equal(st.taskResult, "success", st.message);
  return Date.now() - started;
}

async function spmStatus(node: NodeProc, sp: string) {
  return (await node.json("StoragePool.getSpmStatus", { storagepoolID: sp })) as { spmStatus: string; spmLver: number; spmId: number };
}

test("an SPM whose lease is taken over stops acting as SPM by itself", async () => {
  const a = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
  nodes.push(a);
  const p = await shortLeasePool(a);
  await ok(a.xml("connectStoragePool", p.sp, 1, "", p.sd, 1), "connectStoragePool");
  await becomeSpm(a, p.sp);
  assert.equal((await spmStatus(a, p.sp)).spmStatus, "SPM");
  // Another party forcibly takes the lease record (as a host that judged us dead would).
  const leases = join(p.domainDir, "dom_md/leases");
  execFileSync("safelease", ["release", "-f", leases, "0"], { stdio: "ignore" });
  execFileSync("safelease", ["acquire", leases, "intruder", "5000", "1000"], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  while ((await spmStatus(a, p.sp)).spmStatus === "SPM") {
    assert.ok(Date.now() < deadline, "still SPM 10 s after losing the lease");
    await new Promise((r) => setTimeout(r, 200));
  }
  const r = await a.xml("createVolume", p.sd, p.sp, randomUUID(), 2 ** 20, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK);
  assert.equal(r.status.code, 654, "no metadata change after self-fencing");
  assert.equal(readFileSync(leases).subarray(0, 8).toString("latin1"), "intruder", "the fenced host did not overwrite the new holder");
  await a.stop();
});

/** Two agents on one short-lease pool: `a` (host 1) is SPM, `b` (host 2) is connected. */
async function spmAndSecondHost() {
  const a = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
  const b = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
  nodes.push(a, b);
  const p = await shortLeasePool(a);
  await ok(a.xml("connectStoragePool", p.sp, 1, "", p.sd, 1), "connect a");
  await becomeSpm(a, p.sp);
  await ok(b.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: p.dir }]), "connect b storage");
  await ok(b.xml("connectStoragePool", p.sp, 2, "", p.sd, 1), "connect b");
  return { a, b, p };
}

test("a new host takes the SPM role from a killed one after the lease expires; LVER goes up", async () => {
  const { a, b, p } = await spmAndSecondHost();
  assert.deepEqual(await spmStatus(b, p.sp), { spmStatus: "Free", spmLver: 0, spmId: 1 });

  await a.kill("SIGKILL");
  const ms = await becomeSpm(b, p.sp);
  // safelease waits out the dead holder: about lease (5 s) + 8 × op_max (1 s).
  assert.ok(ms >= 5000, `took over after only ${ms} ms`);
  assert.deepEqual(await spmStatus(b, p.sp), { spmStatus: "SPM", spmLver: 1, spmId: 2 });
  const md = parseDomainMd(readFileSync(join(p.domainDir, "dom_md/metadata"), "utf8")).md;
  assert.equal(md.POOL_SPM_ID, "2");
  assert.equal(md.POOL_SPM_LVER, "1");
  const c = await b.xml("createVolume", p.sd, p.sp, randomUUID(), 2 ** 20, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK);
  assert.equal(c.status.code, 0);
  assert.equal((await waitTask(b, c.uuid as string)).taskResult, "success");
  await b.stop();
});

test("while an SPM holds the lease, another host's spmStart fails and leaves the metadata alone", async () => {
  const { a, b, p } = await spmAndSecondHost();
  const t = await ok(b.xml("spmStart", p.sp, -1, "-1", 0, false), "spmStart b");
  const st = await waitTask(b, t.uuid as string, 60_000);
  assert.notEqual(st.taskResult, "success");
  assert.equal(st.code, 651, st.message);
  assert.equal((await spmStatus(b, p.sp)).spmStatus, "Free");
  assert.deepEqual(await spmStatus(a, p.sp), { spmStatus: "SPM", spmLver: 0, spmId: 1 });
  await a.stop();
  await b.stop();
});
