/**
 * Node operations that roll forward, through the engine: a cold merge (VM snapshot removal), an
 * image delete (disk removal) once its image is renamed away, and a move once its copy is whole.
 * An SPM killed there finishes the work when it (or the next SPM) recovers the task, which then
 * ends "cleanSuccess", not "success". The engine once took that for a failure and put its records
 * back while storage had already done the work: a VM's records named a volume that no longer
 * existed, a removed disk stayed listed, a moved disk was looked for on its old domain. Here the
 * node dies at each fault point, comes back, and the engine must record what storage shows.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { addLocalDomain, checkDomain, type Engine, type Res, firstClusterId, firstDcId, hostUp, items, type Node, nodeRpc, type Snap, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "rollforward-token";
const MiB = 2 ** 20;
const dir = tempDir("vela-rollforward-");
let eng: Engine;
let node: Node;
let sd = "";
let clusterId = "";

before(async () => {
  // A short lease: the restarted node takes its own SPM role back once its old lease expired.
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_LEASE_TIME_SEC: "6", VELA_ENGINE_LEASE_RENEW_SEC: "1" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "merge-host", env: { VELA_TEST_FAULTS: "mergeSnapshots.afterCommit" } });
  const h = await hostUp(eng);
  clusterId = await firstClusterId(eng);
  sd = await addLocalDomain(eng, await firstDcId(eng), h.id, "merge-sd", dir);
});

after(async () => {
  await node?.stop();
  await eng?.stop();
});

interface Disk {
  id: string;
  image_id: string;
  status: string;
}

const vol = (img: string, v: string) => join(dir, sd, "images", img, v);
const qio = (path: string, cmd: string) => execFileSync("qemu-io", ["-f", "qcow2", "-c", cmd, path], { stdio: "pipe" });

async function newDisk(name: string): Promise<Disk> {
  const d = await eng.post<Disk>("/disks", { name, provisioned_size: 16 * MiB, format: "cow", storage_domains: { storage_domain: [{ id: sd }] } });
  return until(`disk ${name} ok`, async () => {
    const x = await eng.get<Disk>(`/disks/${d.id}`);
    return x.status === "ok" ? x : undefined;
  });
}

/** The agent again, on its run dir and port, with these fault points armed (none by default). */
async function restartNode(faults?: string): Promise<void> {
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "merge-host", runDir: node.runDir, port: node.port, env: faults ? { VELA_TEST_FAULTS: faults } : {} });
}

/**
 * Waits for the agent to kill itself at its armed fault point while `req` (the request, or the
 * job it started, that should reach that point) runs, then starts the agent without faults. Work
 * that ends first never reached the fault point: fail at once with how it ended and the node's log
 * tail, rather than after a timeout.
 */
async function restartAfterFault(req: Promise<string>): Promise<void> {
  const died = new Promise<"died">((res) => {
    if (node.proc.exitCode !== null || node.proc.signalCode !== null) res("died");
    else node.proc.once("exit", () => res("died"));
  });
  const first = await Promise.race([died, req.then((answer) => ({ answer }))]);
  if (first !== "died") {
    // The answer may come just before the exit it caused (a refused task, a lost connection).
    const late = await Promise.race([died, new Promise<undefined>((r) => setTimeout(r, 2_000, undefined))]);
    if (late !== "died") {
      assert.fail(`the request ended without the node dying at its fault point: ${first.answer}\nnode log tail:\n${node.output().slice(-3000)}`);
    }
  }
  await restartNode();
}

/** What a request answered, for a failure message. */
const answer = (r: Promise<Res>): Promise<string> => r.then((x) => `${x.status} ${x.text}`);

/**
 * Until the running agent itself says it is SPM again, and the engine shows it so. The engine's
 * record alone is not enough: an agent restarted within one poll is still recorded as SPM while it
 * waits for its old lease to expire (work sent then was refused, and the fault point never hit).
 */
function spmAgain(what: string): Promise<true> {
  return until(what, async () => {
    const st = await nodeRpc<{ spmStatus?: string }>(node, "StoragePool.getSpmStatus", { storagepoolID: await firstDcId(eng) });
    if (st.result?.spmStatus !== "SPM") return undefined;
    return items<{ spm?: { status?: string } }>((await eng.api("GET", "/hosts")).json, "host")[0]?.spm?.status === "spm" ? true : undefined;
  }, 120_000, 250);
}

test("the SPM dies mid-merge; the recovered merge is recorded as done, not put back", { timeout: 240_000 }, async () => {
  const disk = await newDisk("merge-disk");
  const base = disk.image_id;
  qio(vol(disk.id, base), "write -P 0xa1 0 1M");
  const vm = await eng.post<{ id: string }>("/vms", { name: "merge-vm", cluster: { id: clusterId }, memory: 64 * MiB });
  assert.equal((await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: disk.id }, interface: "virtio", bootable: true } })).status, 201);
  const snap = await eng.post<Snap>(`/vms/${vm.id}/snapshots`, { description: "before the crash" });
  await until("snapshot ok", async () => ((await eng.get<Snap>(`/vms/${vm.id}/snapshots/${snap.id}`)).snapshot_status === "ok" ? true : undefined));
  const leaf = (await eng.get<Disk>(`/disks/${disk.id}`)).image_id;
  assert.notEqual(leaf, base);
  qio(vol(disk.id, leaf), "write -P 0xb2 2M 1M");

  // The merge kills the node after committing the leaf into the snapshot's volume.
  const del = await eng.api("DELETE", `/vms/${vm.id}/snapshots/${snap.id}`);
  assert.ok(del.status === 200 || del.status === 202, del.text);
  await restartAfterFault(until("the removal to settle", async () => {
    const s = items<Snap>((await eng.api("GET", `/vms/${vm.id}/snapshots`)).json, "snapshot");
    return s.some((x) => x.snapshot_status === "locked") ? undefined : `snapshots settled: ${JSON.stringify(s)}`;
  }, 240_000, 250));

  await until("snapshot gone from the engine", async () => {
    const list = items<Snap>((await eng.api("GET", `/vms/${vm.id}/snapshots`)).json, "snapshot");
    if (list.some((s) => s.snapshot_status === "locked")) return undefined;
    return list.some((s) => s.id === snap.id) ? "kept" : "gone";
  }, 180_000, 250).then((v) => assert.equal(v, "gone", "the merge was finished on storage, so the snapshot is gone"));

  const after = await eng.get<Disk>(`/disks/${disk.id}`);
  assert.equal(after.status, "ok");
  assert.equal(after.image_id, base, "the disk now stands on the snapshot's volume, which holds the merged data");
  assert.deepEqual(readdirSync(join(dir, sd, "images", disk.id)).filter((f) => !f.includes(".")), [base]);
  qio(vol(disk.id, base), "read -P 0xa1 0 1M");
  qio(vol(disk.id, base), "read -P 0xb2 2M 1M");
  assert.deepEqual(await checkDomain(join(dir, sd)), []);
  // And the VM's snapshots can be used again: a new one on the merged volume.
  const again = await eng.post<Snap>(`/vms/${vm.id}/snapshots`, { description: "after the crash" });
  await until("new snapshot ok", async () => ((await eng.get<Snap>(`/vms/${vm.id}/snapshots/${again.id}`)).snapshot_status === "ok" ? true : undefined));
});

test("the SPM dies mid-delete of a disk; the recovered delete is recorded as done", { timeout: 240_000 }, async () => {
  const d0 = await newDisk("delete-disk");
  // Restart the node with the delete's fault point armed: it dies once the image is renamed away.
  await node.stop();
  await restartNode("deleteImage.afterRename");
  await spmAgain("SPM again");

  const del = eng.api("DELETE", `/disks/${d0.id}`);
  await restartAfterFault(answer(del));
  const r = await del;
  assert.equal(r.status, 200, `the delete is done, as storage shows: ${r.text}`);
  assert.equal((await eng.api("GET", `/disks/${d0.id}`)).status, 404);
  assert.equal(existsSync(join(dir, sd, "images", d0.id)), false);
  assert.deepEqual(await checkDomain(join(dir, sd)), []);
});

test("the SPM dies after a move's copy is whole; the recovered move is recorded on the target", { timeout: 240_000 }, async () => {
  await spmAgain("SPM after the last test's restart");
  const h = items<{ id: string }>((await eng.api("GET", "/hosts")).json, "host")[0]!;
  const dir2 = tempDir("vela-rollforward-b-");
  const sd2 = await addLocalDomain(eng, await firstDcId(eng), h.id, "rollforward-b", dir2);
  const disk = await newDisk("move-disk");
  qio(vol(disk.id, disk.image_id), "write -P 0xc3 0 1M");
  // The move's source delete is the image delete: the node dies once the source is renamed away.
  await node.stop();
  await restartNode("deleteImage.afterRename");
  await spmAgain("SPM again");

  const mv = await eng.api("POST", `/disks/${disk.id}/move`, { body: { storage_domain: { id: sd2 } } });
  assert.ok(mv.status < 300, mv.text);
  await restartAfterFault(until("the move to settle", async () => {
    const x = await eng.get<Disk>(`/disks/${disk.id}`);
    return x.status === "locked" ? undefined : `disk settled: ${JSON.stringify(x)}`;
  }, 240_000, 250));

  const settled = await until("disk settled", async () => {
    const x = await eng.get<Disk & { storage_domains: { storage_domain: { id: string }[] } }>(`/disks/${disk.id}`);
    return x.status === "locked" ? undefined : x;
  }, 180_000, 250);
  assert.equal(settled.status, "ok");
  assert.equal(settled.storage_domains.storage_domain[0]?.id, sd2, "the engine has the disk where storage has it");
  assert.equal(existsSync(join(dir, sd, "images", disk.id)), false);
  qio(join(dir2, sd2, "images", disk.id, disk.image_id), "read -P 0xc3 0 1M");
  assert.deepEqual(await checkDomain(join(dir, sd)), []);
});
