/**
 * A VM previewing a snapshot has images with two branches: the engine refuses what would change
 * its disks until the preview is committed or undone (409, nothing changed in the records or on
 * the volumes); a domain whose image has two branches is imported with the disk on one leaf; an
 * engine killed in the middle of a preview or a commit finishes it on its next start. Real
 * engine and node processes, real domain directories.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addLocalDomain, type Engine, firstClusterId, firstDcId, hostUp, items, type Node, nodeCall, type Snap, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "pg-token";
const MiB = 2 ** 20;
let eng: Engine;
let node: Node;
const dirA = tempDir("vela-pg-a-");
const dirB = tempDir("vela-pg-b-");
let sdA = "";
let sdB = "";
let dcId = "";
let clusterId = "";
const ENGINE_ENV = { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" };

interface Disk {
  id: string;
  image_id: string;
  status: string;
  alias: string;
  provisioned_size: string;
}

before(async () => {
  eng = await startEngine({ env: ENGINE_ENV });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "pg-host", env: { VELA_NODE_ACCEL: "tcg" } });
  const h = await hostUp(eng);
  dcId = await firstDcId(eng);
  clusterId = await firstClusterId(eng);
  sdA = await addLocalDomain(eng, dcId, h.id, "pg-a", dirA);
  sdB = await addLocalDomain(eng, dcId, h.id, "pg-b", dirB);
});

after(async () => {
  if (node && node.proc.exitCode === null) process.kill(node.proc.pid as number, "SIGCONT");
  await node?.stop();
  await eng?.stop();
});

function meta(dir: string, sd: string, img: string, vol: string): Record<string, string> {
  const text = readFileSync(join(dir, sd, "images", img, `${vol}.meta`), "utf8");
  return Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** The volumes of an image on a domain directory, from their .meta files. */
function volumesOn(dir: string, sd: string, img: string): string[] {
  return readdirSync(join(dir, sd, "images", img))
    .filter((f) => f.endsWith(".meta"))
    .map((f) => f.slice(0, -5))
    .sort();
}

async function newDisk(name: string, sd = sdA): Promise<Disk> {
  const d = await eng.post<Disk>("/disks", { name, provisioned_size: 8 * MiB, format: "cow", storage_domains: { storage_domain: [{ id: sd }] } });
  return until(`disk ${name} ok`, async () => {
    const x = await eng.get<Disk>(`/disks/${d.id}`);
    return x.status === "ok" ? x : undefined;
  });
}

async function newVm(name: string, disk: Disk): Promise<string> {
  const vm = await eng.post<{ id: string }>("/vms", { name, cluster: { id: clusterId }, memory: 64 * MiB });
  assert.equal((await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: disk.id }, interface: "virtio", bootable: true } })).status, 201);
  return vm.id;
}

async function snapshot(vm: string, description: string): Promise<Snap> {
  const s = await eng.post<Snap>(`/vms/${vm}/snapshots`, { description });
  await until(`${description} ok`, async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s.id}`)).snapshot_status === "ok" ? true : undefined));
  return s;
}

async function snapState(vm: string): Promise<string[]> {
  return items<Snap>((await eng.api("GET", `/vms/${vm}/snapshots`)).json, "snapshot")
    .map((x) => `${x.description}|${x.snapshot_type}|${x.snapshot_status}`)
    .sort();
}

describe("disk operations during a preview", () => {
  test("copy, move, extend, rename, remove, attach, detach, add, template and detach-only VM removal are refused; all fine again after undo", async () => {
    const d = await newDisk("pg-disk");
    const vm = await newVm("pg-vm", d);
    const spare = await newDisk("pg-spare");
    const other = await eng.post<{ id: string }>("/vms", { name: "pg-other", cluster: { id: clusterId }, memory: 64 * MiB });
    const s1 = await snapshot(vm, "s1");
    const pv = await eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: s1.id }, async: false } });
    assert.equal(pv.status, 200, pv.text);
    const previewLeaf = (await eng.get<Disk>(`/disks/${d.id}`)).image_id;

    const state = async () => ({
      disks: (await eng.api("GET", "/disks")).text,
      vmAtts: (await eng.api("GET", `/vms/${vm}/diskattachments`)).text,
      otherAtts: (await eng.api("GET", `/vms/${other.id}/diskattachments`)).text,
      templates: (await eng.api("GET", "/templates")).text,
      vms: (await eng.api("GET", "/vms")).text,
      snaps: await snapState(vm),
      volsA: volumesOn(dirA, sdA, d.id),
    });
    const before = await state();
    for (const [what, method, url, body] of [
      ["copy", "POST", `/disks/${d.id}/copy`, { storage_domain: { id: sdB } }],
      ["move", "POST", `/disks/${d.id}/move`, { storage_domain: { id: sdB } }],
      ["extend", "PUT", `/disks/${d.id}`, { provisioned_size: 16 * MiB }],
      ["rename", "PUT", `/disks/${d.id}`, { alias: "renamed" }],
      ["remove the disk", "DELETE", `/disks/${d.id}`, undefined],
      ["attach another disk to the VM", "POST", `/vms/${vm}/diskattachments`, { disk: { id: spare.id } }],
      ["attach the VM's disk to another VM", "POST", `/vms/${other.id}/diskattachments`, { disk: { id: d.id } }],
      ["detach the disk", "DELETE", `/vms/${vm}/diskattachments/${d.id}`, undefined],
      [
        "add a new disk to the VM",
        "POST",
        `/vms/${vm}/diskattachments`,
        { disk: { provisioned_size: MiB, format: "cow", storage_domains: { storage_domain: [{ id: sdA }] } } },
      ],
      ["a template of the VM", "POST", "/templates", { name: "pg-t", vm: { id: vm } }],
      ["remove the VM keeping its disks", "DELETE", `/vms/${vm}?detach_only=true`, undefined],
      ["a snapshot", "POST", `/vms/${vm}/snapshots`, { description: "during" }],
    ] as const) {
      const r = await eng.api(method, url, body === undefined ? {} : { body });
      assert.equal(r.status, 409, `${what}: ${r.text}`);
      assert.match(String(r.json?.detail), /previewing a Snapshot|in preview/, `${what}: says why`);
    }
    assert.deepEqual(await state(), before, "nothing changed");
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).image_id, previewLeaf);

    // Undo: the same operations are accepted again (two of them, as a check that the refusal was the preview's).
    assert.equal((await eng.api("POST", `/vms/${vm}/undosnapshot`, { body: { async: false } })).status, 200);
    const ext = await eng.api("PUT", `/disks/${d.id}`, { body: { provisioned_size: 16 * MiB } });
    assert.equal(ext.status, 200, ext.text);
    const det = await eng.api("DELETE", `/vms/${vm}/diskattachments/${d.id}`);
    assert.equal(det.status, 200, det.text);
  });

  test("removing the VM with its disks is allowed during a preview: both branches go", async () => {
    const d = await newDisk("pg-gone");
    const vm = await newVm("pg-gone-vm", d);
    const s1 = await snapshot(vm, "s1");
    assert.equal((await eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: s1.id }, async: false } })).status, 200);
    assert.equal(volumesOn(dirA, sdA, d.id).length, 3, "base, old leaf and preview leaf");
    const rm = await eng.api("DELETE", `/vms/${vm}`);
    assert.equal(rm.status, 200, rm.text);
    assert.equal((await eng.api("GET", `/disks/${d.id}`)).status, 404);
    assert.equal(readdirSync(join(dirA, sdA, "images")).includes(d.id), false);
  });
});

/** createVolume of a COW volume on `parent` in the image, through the node's own verb, awaited. */
async function nodeSnapshotVolume(sd: string, img: string, parent: string, vol: string): Promise<void> {
  const task = await nodeCall<string>(node, "Volume.create", {
    storagedomainID: sd,
    storagepoolID: dcId,
    imageID: img,
    size: 8 * MiB,
    volFormat: "COW",
    preallocate: "SPARSE",
    diskType: "DATA",
    volumeID: vol,
    desc: "",
    srcImgUUID: img,
    srcVolUUID: parent,
  });
  const st = await until(`task ${task}`, async () => {
    const s = await nodeCall<{ taskState: string; taskResult: string }>(node, "Task.getStatus", { taskID: task });
    return s.taskState === "finished" || s.taskState === "failed" ? s : undefined;
  });
  assert.equal(st.taskResult, "success", `createVolume ${vol}`);
  await nodeCall(node, "Task.clear", { taskID: task });
}

describe("domain import", () => {
  test("an image with two leaves is registered as a disk on its newest leaf; nothing on storage changes", async () => {
    const d = await newDisk("pg-branched", sdB);
    const A = d.image_id;
    // A ← B (a snapshot), then a branch A ← C ← D: two leaves, B and D; D is the newest (made
    // last) and has the longer chain, so the rule picks it whatever the CTIME seconds are.
    const [B, C, D] = ["b", "c", "d"].map((x) => `${x.repeat(8)}-0000-4000-8000-${A.slice(-12)}`) as [string, string, string];
    await nodeSnapshotVolume(sdB, d.id, A, B);
    await nodeSnapshotVolume(sdB, d.id, A, C);
    await nodeSnapshotVolume(sdB, d.id, C, D);
    const roles = () => Object.fromEntries(volumesOn(dirB, sdB, d.id).map((v) => [v, `${meta(dirB, sdB, d.id, v).VOLTYPE}/${meta(dirB, sdB, d.id, v).PUUID}`]));
    const before = roles();
    assert.deepEqual(Object.keys(before), [A, B, C, D].sort());
    assert.equal(before[B]?.split("/")[0], "LEAF");
    assert.equal(before[D]?.split("/")[0], "LEAF");

    // Detach and remove from the engine, import from the directory, attach: the disk is back.
    assert.equal((await eng.api("POST", `/datacenters/${dcId}/storagedomains/${sdB}/deactivate`, { body: {} })).status, 200);
    const det = await eng.api("DELETE", `/datacenters/${dcId}/storagedomains/${sdB}`);
    assert.equal(det.status, 200, det.text);
    assert.equal((await eng.api("GET", `/disks/${d.id}`)).status, 404);
    assert.equal((await eng.api("DELETE", `/storagedomains/${sdB}`)).status, 200);
    const hostId = (items<{ id: string }>((await eng.api("GET", "/hosts")).json, "host")[0] as { id: string }).id;
    const imp = await eng.api("POST", "/storagedomains", { body: { import: true, type: "data", host: { id: hostId }, storage: { type: "localfs", path: dirB } } });
    assert.equal(imp.status, 201, imp.text);
    const att = await eng.api("POST", `/datacenters/${dcId}/storagedomains`, { body: { id: sdB } });
    assert.equal(att.status, 201, att.text);

    const back = await eng.get<Disk>(`/disks/${d.id}`);
    assert.equal(back.image_id, D, "registered on the newest leaf");
    assert.equal(back.status, "ok");
    assert.equal(back.alias, "pg-branched", "the alias comes from the base volume the engine described");
    assert.deepEqual(roles(), before, "the import changed nothing on storage");

    // The disk works: a VM runs a snapshot on it, and removing the disk removes both branches.
    const vm = await newVm("pg-imported", back);
    await snapshot(vm, "after import");
    assert.equal(meta(dirB, sdB, d.id, D).VOLTYPE, "INTERNAL");
    assert.equal((await eng.api("DELETE", `/vms/${vm}`)).status, 200);
    assert.deepEqual(readdirSync(join(dirB, sdB, "images")).includes(d.id), false, "the whole image is gone");
  });
});

/** Runs `act` (a request that starts a job) with the node frozen, kills the engine, thaws the node and starts the engine again on the same database. */
async function killDuring(act: () => Promise<{ status: number; text: string; json?: Record<string, unknown> }>, whileDown?: () => void): Promise<string> {
  const pid = node.proc.pid as number;
  process.kill(pid, "SIGSTOP");
  let jobId = "";
  try {
    // The job has recorded what it will do and waits on the frozen SPM when the engine dies.
    const r = await act();
    assert.equal(r.status, 202, r.text);
    jobId = (r.json as { job: { id: string } }).job.id;
    await eng.kill();
    whileDown?.();
  } finally {
    process.kill(pid, "SIGCONT");
  }
  eng = await startEngine({ home: eng.home, port: eng.port, env: ENGINE_ENV });
  return jobId;
}

describe("engine restart", () => {
  test("killed mid-preview, the next start completes the preview; killed mid-commit, it finishes the commit", async () => {
    const d = await newDisk("pg-restart");
    const vm = await newVm("pg-restart-vm", d);
    const leafOf = async () => (await eng.get<Disk>(`/disks/${d.id}`)).image_id;
    const L0 = d.image_id;
    const r1 = await snapshot(vm, "r1");
    const L1 = await leafOf();
    await snapshot(vm, "r2");
    const L2 = await leafOf();

    const pvJob = await killDuring(() => eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: r1.id } } }));
    const pj = await until("resumed preview job ended", async () => {
      const j = await eng.get<{ status: string }>(`/jobs/${pvJob}`);
      return j.status === "started" ? undefined : j;
    }, 120_000);
    assert.equal(pj.status, "finished");
    assert.deepEqual(await snapState(vm), ["Active VM before the preview|preview|ok", "Active VM|active|ok", "r1|regular|in_preview", "r2|regular|ok"]);
    const P = await leafOf();
    assert.ok(![L0, L1, L2].includes(P), "the disk is on a new leaf");
    assert.deepEqual([meta(dirA, sdA, d.id, P).PUUID, meta(dirA, sdA, d.id, P).VOLTYPE], [L0, "LEAF"]);
    assert.deepEqual(volumesOn(dirA, sdA, d.id), [L0, L1, L2, P].sort(), "no stray volume");
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok");
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "down");

    const cmJob = await killDuring(() => eng.api("POST", `/vms/${vm}/commitsnapshot`, { body: {} }));
    const cj = await until("resumed commit job ended", async () => {
      const j = await eng.get<{ status: string }>(`/jobs/${cmJob}`);
      return j.status === "started" ? undefined : j;
    }, 120_000);
    assert.equal(cj.status, "finished");
    assert.deepEqual(await snapState(vm), ["Active VM|active|ok", "r1|regular|ok"], "the snapshot taken after r1 went with its volumes");
    assert.equal(await leafOf(), P);
    assert.deepEqual(volumesOn(dirA, sdA, d.id), [L0, P].sort(), "the old branch is deleted");
    assert.equal(meta(dirA, sdA, d.id, L0).VOLTYPE, "INTERNAL");
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok");
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "down");
  });

  test("killed mid-preview whose new leaf cannot be made, the next start rolls the preview back", async () => {
    const d = await newDisk("pg-rollback");
    const vm = await newVm("pg-rollback-vm", d);
    const L0 = d.image_id;
    const g1 = await snapshot(vm, "g1");
    const L1 = (await eng.get<Disk>(`/disks/${d.id}`)).image_id;
    const before = await snapState(vm);
    // The snapshot's volume turns ILLEGAL while the SPM is frozen: no leaf can be made on it.
    const mdPath = join(dirA, sdA, "images", d.id, `${L0}.meta`);
    const legal = readFileSync(mdPath, "utf8");
    assert.match(legal, /^LEGALITY=LEGAL$/m);
    const job = await killDuring(
      () => eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: g1.id } } }),
      () => writeFileSync(mdPath, legal.replace(/^LEGALITY=LEGAL$/m, "LEGALITY=ILLEGAL")),
    );
    try {
      const j = await until("resumed preview job ended", async () => {
        const x = await eng.get<{ status: string }>(`/jobs/${job}`);
        return x.status === "started" ? undefined : x;
      }, 120_000);
      assert.equal(j.status, "failed");
      assert.deepEqual(await snapState(vm), before, "no holder, the snapshot is ok again");
      const now = await eng.get<Disk>(`/disks/${d.id}`);
      assert.deepEqual([now.image_id, now.status], [L1, "ok"]);
      assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "down");
      assert.deepEqual(volumesOn(dirA, sdA, d.id), [L0, L1].sort(), "no preview leaf left");
    } finally {
      writeFileSync(mdPath, legal);
    }
    // Clean enough to preview again.
    const pv = await eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: g1.id }, async: false } });
    assert.equal(pv.status, 200, pv.text);
  });
  test("killed mid-restore, the next start finishes the restore", async () => {
    const d = await newDisk("pg-restore");
    const vm = await newVm("pg-restore-vm", d);
    const leafOf = async () => (await eng.get<Disk>(`/disks/${d.id}`)).image_id;
    const L0 = d.image_id;
    const h1 = await snapshot(vm, "h1");
    const L1 = await leafOf();
    await snapshot(vm, "h2");
    const L2 = await leafOf();
    const job = await killDuring(() => eng.api("POST", `/vms/${vm}/snapshots/${h1.id}/restore`, { body: {} }));
    const j = await until("resumed restore job ended", async () => {
      const x = await eng.get<{ status: string }>(`/jobs/${job}`);
      return x.status === "started" ? undefined : x;
    }, 120_000);
    assert.equal(j.status, "finished");
    assert.deepEqual(await snapState(vm), ["Active VM|active|ok", "h1|regular|ok"]);
    const N = await leafOf();
    assert.ok(![L0, L1, L2].includes(N));
    assert.equal(meta(dirA, sdA, d.id, N).PUUID, L0);
    assert.deepEqual(volumesOn(dirA, sdA, d.id), [L0, N].sort());
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok");
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "down");
  });
});

async function nodeDeleteVolumes(sd: string, img: string, vols: string[]): Promise<void> {
  const task = await nodeCall<string>(node, "Volume.delete", { storagedomainID: sd, storagepoolID: dcId, imageID: img, volumeID: vols });
  const st = await until(`task ${task}`, async () => {
    const s = await nodeCall<{ taskState: string; taskResult: string }>(node, "Task.getStatus", { taskID: task });
    return s.taskState === "finished" || s.taskState === "failed" ? s : undefined;
  });
  assert.equal(st.taskResult, "success", `deleteVolume ${vols.join(",")}`);
  await nodeCall(node, "Task.clear", { taskID: task });
}

describe("a delete phase that fails", () => {
  test("a failed commit leaves the preview for another commit (undo refused), which finishes what the first left; a failed restore is left in preview and commit finishes it", async () => {
    const d = await newDisk("pg-fail");
    const vm = await newVm("pg-fail-vm", d);
    const leafOf = async () => (await eng.get<Disk>(`/disks/${d.id}`)).image_id;
    const L0 = d.image_id;
    const f1 = await snapshot(vm, "f1");
    const L1 = await leafOf();
    await snapshot(vm, "f2");
    const L2 = await leafOf();
    const stray = `eeeeeeee-0000-4000-8000-${L0.slice(-12)}`;

    // A volume the engine does not know on the old leaf makes the old branch undeletable.
    const pv = await eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: f1.id }, async: false } });
    assert.equal(pv.status, 200, pv.text);
    const P = await leafOf();
    await nodeSnapshotVolume(sdA, d.id, L2, stray);
    const c1 = await eng.api("POST", `/vms/${vm}/commitsnapshot`, { body: { async: false } });
    assert.ok(c1.status >= 400, `the commit fails: ${c1.text}`);
    assert.deepEqual(await snapState(vm), ["Active VM before the preview|preview|locked", "Active VM|active|ok", "f1|regular|in_preview", "f2|regular|ok"]);
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok");
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "down");
    const undo = await eng.api("POST", `/vms/${vm}/undosnapshot`, { body: { async: false } });
    assert.equal(undo.status, 409, undo.text);
    assert.match(String(undo.json?.detail), /run commit again/);

    // As if the failed attempt had deleted the old leaf before failing: the retry deletes the rest.
    await nodeDeleteVolumes(sdA, d.id, [stray, L2]);
    assert.deepEqual(volumesOn(dirA, sdA, d.id), [L0, L1, P].sort());
    const c2 = await eng.api("POST", `/vms/${vm}/commitsnapshot`, { body: { async: false } });
    assert.equal(c2.status, 200, c2.text);
    assert.deepEqual(volumesOn(dirA, sdA, d.id), [L0, P].sort());
    assert.deepEqual(await snapState(vm), ["Active VM|active|ok", "f1|regular|ok"]);
    assert.equal(await leafOf(), P);

    // Restore whose delete phase fails: the VM is left previewing the snapshot, commit finishes it.
    const f3 = await snapshot(vm, "f3");
    const L3 = await leafOf();
    await nodeSnapshotVolume(sdA, d.id, L3, stray);
    const rs = await eng.api("POST", `/vms/${vm}/snapshots/${f1.id}/restore`, { body: { async: false } });
    assert.ok(rs.status >= 400, `the restore fails: ${rs.text}`);
    assert.deepEqual(await snapState(vm), ["Active VM before the preview|preview|locked", "Active VM|active|ok", "f1|regular|in_preview", "f3|regular|ok"]);
    const N = await leafOf();
    assert.ok(![L0, P, L3].includes(N), "the disk is on the restore's new leaf");
    assert.equal(meta(dirA, sdA, d.id, N).PUUID, L0);
    await nodeDeleteVolumes(sdA, d.id, [stray]);
    const c3 = await eng.api("POST", `/vms/${vm}/commitsnapshot`, { body: { async: false } });
    assert.equal(c3.status, 200, c3.text);
    assert.deepEqual(volumesOn(dirA, sdA, d.id), [L0, N].sort());
    assert.deepEqual(await snapState(vm), ["Active VM|active|ok", "f1|regular|ok"], `f3 went with its volumes (${f3.id})`);
  });


  test("an undo stopped half-way: commit is refused, undo again finishes it", async () => {
    const d1 = await newDisk("pg-undo-1");
    const d2 = await newDisk("pg-undo-2");
    const vm = await newVm("pg-undo-vm", d1);
    assert.equal((await eng.api("POST", `/vms/${vm}/diskattachments`, { body: { disk: { id: d2.id }, interface: "virtio" } })).status, 201);
    const u1 = await snapshot(vm, "u1");
    const old1 = (await eng.get<Disk>(`/disks/${d1.id}`)).image_id;
    const old2 = (await eng.get<Disk>(`/disks/${d2.id}`)).image_id;
    const before = await snapState(vm);
    assert.equal((await eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: u1.id }, async: false } })).status, 200);
    // Whichever disk the undo takes second cannot lose its preview leaf (a child the engine does not know).
    const p1 = (await eng.get<Disk>(`/disks/${d1.id}`)).image_id;
    const p2 = (await eng.get<Disk>(`/disks/${d2.id}`)).image_id;
    const stray1 = `eeeeeeee-0000-4000-8000-${p1.slice(-12)}`;
    const stray2 = `eeeeeeee-0000-4000-8000-${p2.slice(-12)}`;
    await nodeSnapshotVolume(sdA, d1.id, p1, stray1);
    await nodeSnapshotVolume(sdA, d2.id, p2, stray2);
    const u = await eng.api("POST", `/vms/${vm}/undosnapshot`, { body: { async: false } });
    assert.ok(u.status >= 400, `the undo fails: ${u.text}`);
    // Let one disk's undo through and try again: if the undo takes the other disk first, swap.
    const disks = [
      { d: d1, old: old1, preview: p1, stray: stray1 },
      { d: d2, old: old2, preview: p2, stray: stray2 },
    ];
    let [ok, bad] = disks as [(typeof disks)[0], (typeof disks)[0]];
    const back = async () => {
      const out = [];
      for (const x of disks) if ((await eng.get<Disk>(`/disks/${x.d.id}`)).image_id === x.old) out.push(x.d.id);
      return out;
    };
    await nodeDeleteVolumes(sdA, ok.d.id, [ok.stray]);
    let u2 = await eng.api("POST", `/vms/${vm}/undosnapshot`, { body: { async: false } });
    if ((await back()).length === 0) {
      await nodeDeleteVolumes(sdA, bad.d.id, [bad.stray]);
      await nodeSnapshotVolume(sdA, ok.d.id, ok.preview, ok.stray);
      [ok, bad] = [bad, ok];
      u2 = await eng.api("POST", `/vms/${vm}/undosnapshot`, { body: { async: false } });
    }
    assert.ok(u2.status >= 400, `the undo fails on the other disk: ${u2.text}`);
    assert.deepEqual(await back(), [ok.d.id], "one disk is back before the preview, one is not");
    const c = await eng.api("POST", `/vms/${vm}/commitsnapshot`, { body: { async: false } });
    assert.equal(c.status, 409, c.text);
    assert.match(String(c.json?.detail), /run undo again/);
    await nodeDeleteVolumes(sdA, bad.d.id, [bad.stray]);
    const u3 = await eng.api("POST", `/vms/${vm}/undosnapshot`, { body: { async: false } });
    assert.equal(u3.status, 200, u3.text);
    assert.deepEqual(await snapState(vm), before);
    assert.equal((await eng.get<Disk>(`/disks/${d1.id}`)).image_id, old1);
    assert.equal((await eng.get<Disk>(`/disks/${d2.id}`)).image_id, old2);
  });
});
