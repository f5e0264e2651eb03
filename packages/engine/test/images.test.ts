/**
 * Disks, snapshots and templates through the REST API with a real node agent: every claim is
 * checked on the volumes themselves (qemu-io reads the guest-visible data through the chain,
 * the .meta files give the roles), and every long action is a job whose steps end finished.
 * Refusals (unknown ids, shrinking, template volumes, running state) change nothing. A running
 * VM (the tiny test guest, writing) takes snapshots live and keeps running on the new leaves.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addLocalDomain, checkDomain, type Engine, firstClusterId, firstDcId, hostUp, items, type Node, nodeCall, qemuOf, type Snap, startEngine, startNode, tempDir, until } from "./support.js";
import { BLANK_UUID as BLANK } from "@vela/protocol/ids";

const TOKEN = "img-token";
const GUEST_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../scripts/build-test-guest.sh");
/** The tiny test guest (scripts/build-test-guest.sh), for the VMs that must run a guest that writes. */
const guestDir = execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() as string;
const MiB = 2 ** 20;
const NOPE = "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
let eng: Engine;
let node: Node;
const dirA = tempDir("vela-img-a-");
const dirB = tempDir("vela-img-b-");
let sdA = "";
let sdB = "";
let clusterId = "";
/** VMs a test started: their QEMU is killed at the end whatever happened (VMs outlive agents). */
const vmIds: string[] = [];

interface Disk {
  id: string;
  image_id: string;
  status: string;
  alias: string;
  provisioned_size: string;
  storage_domains: { storage_domain: { id: string }[] };
}
interface Job {
  id: string;
  status: string;
  description: string;
}

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300", VELA_BOOT_DIRS: guestDir } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "img-host", env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: guestDir } });
  const h = await hostUp(eng);
  const dcId = await firstDcId(eng);
  clusterId = await firstClusterId(eng);
  sdA = await addLocalDomain(eng, dcId, h.id, "img-a", dirA);
  sdB = await addLocalDomain(eng, dcId, h.id, "img-b", dirB);
});

after(async () => {
  for (const id of vmIds) for (const pid of qemuOf(id)) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

function qemuCmdline(vmId: string): string {
  const pids = qemuOf(vmId);
  assert.equal(pids.length, 1, "one QEMU runs the VM");
  return readFileSync(`/proc/${pids[0]}/cmdline`, "utf8");
}

async function stopVm(vmId: string): Promise<void> {
  const r = await eng.api("POST", `/vms/${vmId}/stop`, { body: {} });
  assert.equal(r.status, 200, r.text);
  await until("VM down", async () => ((await eng.get<{ status: string }>(`/vms/${vmId}`)).status === "down" ? true : undefined));
  await until("QEMU gone", async () => (qemuOf(vmId).length === 0 ? true : undefined), 10_000);
}

function volPath(dir: string, sd: string, img: string, vol: string): string {
  return join(dir, sd, "images", img, vol);
}

function meta(path: string): Record<string, string> {
  const text = readFileSync(`${path}.meta`, "utf8");
  return Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** qemu-io on a volume (through its chain); throws when the command fails (e.g. a pattern mismatch). */
function qio(path: string, cmd: string): void {
  execFileSync("qemu-io", ["-f", "qcow2", "-c", cmd, path], { stdio: "pipe" });
}
function reads(path: string, pattern: number): boolean {
  try {
    qio(path, `read -P 0x${pattern.toString(16)} 0 64k`);
    return true;
  } catch {
    return false;
  }
}

async function newDisk(name: string, sd = sdA, size = 8 * MiB): Promise<Disk> {
  const d = await eng.post<Disk>("/disks", { name, provisioned_size: size, format: "cow", storage_domains: { storage_domain: [{ id: sd }] } });
  return until(`disk ${name} ok`, async () => {
    const x = await eng.get<Disk>(`/disks/${d.id}`);
    return x.status === "ok" ? x : undefined;
  });
}

async function jobDone(id: string): Promise<Job> {
  return until(`job ${id} ended`, async () => {
    const j = await eng.get<Job>(`/jobs/${id}`);
    return j.status === "started" ? undefined : j;
  });
}

async function steps(jobId: string): Promise<{ status: string; progress: string; description: string }[]> {
  return items((await eng.api("GET", `/jobs/${jobId}/steps`)).json, "step");
}

/** After an agent restart: the host is up and SPM again (the engine has seen the new agent). */
async function spmAgain(): Promise<void> {
  await until("the restarted host is the SPM again", async () => {
    const h = items<{ status: string; spm?: { status: string } }>((await eng.api("GET", "/hosts")).json, "host")[0];
    const up = h?.status === "up" && h.spm?.status === "spm" && /VELA-NODE-READY/.test(node.output());
    return up ? true : undefined;
  }, 90_000);
}

async function newVm(name: string, disk?: Disk): Promise<string> {
  const vm = await eng.post<{ id: string }>("/vms", { name, cluster: { id: clusterId }, memory: 64 * MiB });
  if (disk) assert.equal((await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: disk.id }, interface: "virtio", bootable: true } })).status, 201);
  return vm.id;
}

describe("disks", () => {
  test("copy to another domain (a job with progress), move, extend; shrinking and bad references refused", async () => {
    const d = await newDisk("d1");
    const leafA = volPath(dirA, sdA, d.id, d.image_id);
    qio(leafA, "write -P 0xaa 0 64k");

    const copyRes = await eng.api("POST", `/disks/${d.id}/copy`, { body: { storage_domain: { id: sdB }, disk: { name: "d1-copy" } } });
    assert.equal(copyRes.status, 202, copyRes.text);
    const act = copyRes.json as { status: string; async: string; job: { id: string }; disk: { id: string } };
    assert.equal(act.status, "pending");
    assert.equal(act.async, "true");
    assert.equal((await jobDone(act.job.id)).status, "finished");
    const st = await steps(act.job.id);
    assert.ok(st.length >= 2 && st.every((s) => s.status === "finished" && s.progress === "100"), JSON.stringify(st));
    const copy = await eng.get<Disk>(`/disks/${act.disk.id}`);
    assert.equal(copy.status, "ok");
    assert.equal(copy.alias, "d1-copy");
    assert.equal(copy.storage_domains.storage_domain[0]?.id, sdB);
    const copyPath = volPath(dirB, sdB, copy.id, copy.image_id);
    assert.ok(reads(copyPath, 0xaa), "the copy holds the source's data");
    assert.equal(meta(copyPath).PUUID, BLANK);
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok", "the source is unlocked");

    // XML in, XML out.
    const xml = await eng.api("POST", `/disks/${d.id}/copy`, { body: `<action><storage_domain id="${sdA}"/><async>false</async></action>`, accept: "xml" });
    assert.equal(xml.status, 200, xml.text);
    assert.match(xml.text, /<action>[\s\S]*<status>complete<\/status>[\s\S]*<job href="\/ovirt-engine\/api\/jobs\/[0-9a-f-]{36}" id="[0-9a-f-]{36}"\/>/);

    // Bad references: nothing happens.
    const disksBefore = items((await eng.api("GET", "/disks")).json, "disk").length;
    assert.equal((await eng.api("POST", `/disks/${NOPE}/copy`, { body: { storage_domain: { id: sdB } } })).status, 404);
    assert.equal((await eng.api("POST", `/disks/${d.id}/copy`, { body: { storage_domain: { id: NOPE } } })).status, 404);
    assert.equal((await eng.api("POST", `/disks/${d.id}/copy`, { body: {} })).status, 400, "storage_domain is required");
    assert.equal((await eng.api("POST", `/disks/${d.id}/move`, { body: { storage_domain: { id: sdA } } })).status, 400, "already there");
    const hostId = (items<{ id: string }>((await eng.api("GET", "/hosts")).json, "host")[0] as { id: string }).id;
    const loose = await eng.post<{ id: string }>("/storagedomains", { name: "img-loose", type: "data", host: { id: hostId }, storage: { type: "localfs", path: tempDir("vela-img-c-") } });
    const toLoose = await eng.api("POST", `/disks/${d.id}/copy`, { body: { storage_domain: { id: loose.id } } });
    assert.equal(toLoose.status, 409, "a domain outside the data center");
    assert.match(String(toLoose.json?.detail), /not attached/);
    assert.equal((await eng.api("DELETE", `/storagedomains/${loose.id}?host=${hostId}&format=true`)).status, 200);
    assert.equal(items((await eng.api("GET", "/disks")).json, "disk").length, disksBefore);

    // Move: same disk id and volume, now on B only.
    const mv = await eng.api("POST", `/disks/${d.id}/move`, { body: { storage_domain: { id: sdB }, async: false } });
    assert.equal(mv.status, 200, mv.text);
    assert.equal((mv.json as { status: string }).status, "complete");
    const moved = await eng.get<Disk>(`/disks/${d.id}`);
    assert.equal(moved.storage_domains.storage_domain[0]?.id, sdB);
    assert.equal(moved.status, "ok");
    const leafB = volPath(dirB, sdB, d.id, d.image_id);
    assert.ok(reads(leafB, 0xaa));
    assert.equal(existsSync(join(dirA, sdA, "images", d.id)), false, "gone from the source domain");

    // Extend; shrinking and over-long descriptions are refused and change nothing.
    const ext = await eng.api("PUT", `/disks/${d.id}`, { body: { provisioned_size: 16 * MiB } });
    assert.equal(ext.status, 200, ext.text);
    assert.equal((ext.json as unknown as Disk).provisioned_size, String(16 * MiB));
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", "-f", "qcow2", leafB], { encoding: "utf8" })) as { "virtual-size": number };
    assert.equal(info["virtual-size"], 16 * MiB);
    const shrink = await eng.api("PUT", `/disks/${d.id}`, { body: { provisioned_size: 4 * MiB } });
    assert.equal(shrink.status, 400);
    assert.match(String(shrink.json?.detail), /cannot shrink/);
    assert.equal((await eng.api("PUT", `/disks/${d.id}`, { body: { description: "x".repeat(600) } })).status, 400);
    assert.equal((await eng.api("PUT", `/disks/${NOPE}`, { body: { provisioned_size: 32 * MiB } })).status, 404);
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).provisioned_size, String(16 * MiB));
    const ren = await eng.api("PUT", `/disks/${d.id}`, { body: { alias: "d1-renamed" } });
    assert.equal((ren.json as unknown as Disk).alias, "d1-renamed");
    assert.match(meta(leafB).DESCRIPTION ?? "", /d1-renamed/);
  });
});

describe("snapshots", () => {
  test("create freezes the leaf under a new COW leaf; delete merges; restore returns to it", async () => {
    const d = await newDisk("snapdisk");
    const vm = await newVm("snap-vm", d);
    const L0 = volPath(dirA, sdA, d.id, d.image_id);
    qio(L0, "write -P 0x11 0 64k");

    const s1r = await eng.api("POST", `/vms/${vm}/snapshots`, { body: { description: "s1" } });
    assert.equal(s1r.status, 201, s1r.text);
    const s1 = s1r.json as unknown as Snap;
    assert.equal(s1.snapshot_status, "locked");
    await until("s1 ok", async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s1.id}`)).snapshot_status === "ok" ? true : undefined));
    const L1id = (await eng.get<Disk>(`/disks/${d.id}`)).image_id;
    assert.notEqual(L1id, d.image_id);
    const L1 = volPath(dirA, sdA, d.id, L1id);
    assert.equal(meta(L1).PUUID, d.image_id);
    assert.equal(meta(L1).VOLTYPE, "LEAF");
    assert.equal(meta(L0).VOLTYPE, "INTERNAL");
    const list = items<Snap>((await eng.api("GET", `/vms/${vm}/snapshots`)).json, "snapshot");
    assert.deepEqual(
      list.map((s) => [s.description, s.snapshot_type]),
      [
        ["s1", "regular"],
        ["Active VM", "active"],
      ],
    );
    const s1disks = items<Disk>((await eng.api("GET", `/vms/${vm}/snapshots/${s1.id}/disks`)).json, "disk");
    assert.equal(s1disks[0]?.image_id, d.image_id, "the snapshot holds the frozen volume");
    qio(L1, "write -P 0x22 0 64k");
    assert.ok(reads(L0, 0x11), "the snapshot's volume is untouched");

    const s2 = (await eng.post<Snap>(`/vms/${vm}/snapshots`, { description: "s2" })) as Snap;
    await until("s2 ok", async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s2.id}`)).snapshot_status === "ok" ? true : undefined));
    const L2 = volPath(dirA, sdA, d.id, (await eng.get<Disk>(`/disks/${d.id}`)).image_id);
    qio(L2, "write -P 0x33 0 64k");

    // Bad input: nothing changes.
    const before = (await eng.api("GET", `/vms/${vm}/snapshots`)).text;
    assert.equal((await eng.api("POST", `/vms/${vm}/snapshots`, { body: {} })).status, 400, "a description is required");
    assert.equal((await eng.api("POST", `/vms/${vm}/snapshots`, { body: { description: "y".repeat(5000) } })).status, 400, "over-long description");
    assert.equal((await eng.api("POST", `/vms/${vm}/snapshots`, { body: { description: "m", persist_memorystate: true } })).status, 400, "no memory state");
    assert.equal((await eng.api("POST", `/vms/${NOPE}/snapshots`, { body: { description: "x" } })).status, 404);
    assert.equal((await eng.api("DELETE", `/vms/${vm}/snapshots/${NOPE}`)).status, 404);
    const active = list.find((s) => s.snapshot_type === "active") as Snap;
    assert.equal((await eng.api("DELETE", `/vms/${vm}/snapshots/${active.id}`)).status, 409, "the active snapshot stays");
    assert.equal((await eng.api("POST", `/vms/${vm}/snapshots/${active.id}/restore`, { body: {} })).status, 409);
    assert.equal((await eng.api("POST", `/vms/${vm}/snapshots/${s1.id}/restore`, { body: { restore_memory: true } })).status, 400, "no memory state to restore");
    assert.equal((await eng.api("POST", `/vms/${vm}/snapshots/${NOPE}/restore`, { body: {} })).status, 404);
    assert.equal((await eng.api("GET", `/vms/${vm}/snapshots`)).text, before);

    // Delete s1 = cold merge of its child into its volume: the guest still sees 0x33, s2 now owns L0 with 0x22.
    const del = await eng.api("DELETE", `/vms/${vm}/snapshots/${s1.id}?async=false`);
    assert.equal(del.status, 200, del.text);
    assert.equal((await eng.api("GET", `/vms/${vm}/snapshots/${s1.id}`)).status, 404);
    assert.equal(existsSync(L1), false, "the merged child is gone");
    assert.ok(reads(L2, 0x33), "what the guest sees did not change");
    assert.ok(reads(L0, 0x22), "the snapshot's volume took in its child's data");
    assert.equal(meta(L2).PUUID, d.image_id);
    const s2disks = items<Disk>((await eng.api("GET", `/vms/${vm}/snapshots/${s2.id}/disks`)).json, "disk");
    assert.equal(s2disks[0]?.image_id, d.image_id);

    // A later snapshot s3, then restore s2 (= preview + commit): back to 0x22 on a new leaf on
    // s2's volume; what came after (L2, s3's volume L3 and s3 itself) goes; s2 stays.
    const s3 = (await eng.post<Snap>(`/vms/${vm}/snapshots`, { description: "s3" })) as Snap;
    await until("s3 ok", async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s3.id}`)).snapshot_status === "ok" ? true : undefined));
    const L3 = volPath(dirA, sdA, d.id, (await eng.get<Disk>(`/disks/${d.id}`)).image_id);
    qio(L3, "write -P 0x44 0 64k");
    const rs = await eng.api("POST", `/vms/${vm}/snapshots/${s2.id}/restore`, { body: { async: false } });
    assert.equal(rs.status, 200, rs.text);
    const leafId = (await eng.get<Disk>(`/disks/${d.id}`)).image_id;
    const leaf = volPath(dirA, sdA, d.id, leafId);
    assert.ok(reads(leaf, 0x22));
    assert.equal(meta(leaf).PUUID, d.image_id, "the new leaf stands on s2's volume");
    assert.equal(existsSync(L2), false);
    assert.equal(existsSync(L3), false);
    assert.equal((await eng.api("GET", `/vms/${vm}/snapshots/${s3.id}`)).status, 404, "the snapshot taken after the restored one is gone");
    assert.equal((await eng.get<Snap>(`/vms/${vm}/snapshots/${s2.id}`)).snapshot_status, "ok");
    assert.deepEqual(readdirSync(join(dirA, sdA, "images", d.id)).filter((f) => f.endsWith(".meta")).sort(), [`${d.image_id}.meta`, `${leafId}.meta`].sort());
    assert.equal(items<Disk>((await eng.api("GET", "/disks")).json, "disk").find((x) => x.id === d.id)?.status, "ok");

    const jobs = items<Job>((await eng.api("GET", "/jobs")).json, "job");
    for (const j of ["Creating VM Snapshot 's1'", "Removing Snapshot 's1'", "Restoring VM snap-vm to Snapshot 's2'"]) {
      const job = jobs.find((x) => x.description.startsWith(j));
      assert.equal(job?.status, "finished", j);
      assert.ok((await steps(job.id)).some((s) => s.description.startsWith("Creating volume") || s.description.startsWith("Merging") || s.description.startsWith("Deleting")));
    }
  });

  test("preview makes a branch the VM runs on; undo drops it; preview again and commit drops the old branch and later snapshots", async () => {
    const d = await newDisk("prevdisk");
    const vm = await newVm("prev-vm", d);
    vmIds.push(vm);
    const path = (vol: string) => volPath(dirA, sdA, d.id, vol);
    const leafId = async () => (await eng.get<Disk>(`/disks/${d.id}`)).image_id;
    const snapState = async () =>
      items<Snap>((await eng.api("GET", `/vms/${vm}/snapshots`)).json, "snapshot")
        .map((x) => `${x.description}|${x.snapshot_type}|${x.snapshot_status}`)
        .sort();
    const L0 = d.image_id;
    qio(path(L0), "write -P 0x51 0 64k");
    const s1 = await eng.post<Snap>(`/vms/${vm}/snapshots`, { description: "base" });
    await until("s1 ok", async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s1.id}`)).snapshot_status === "ok" ? true : undefined));
    const L1 = await leafId();
    qio(path(L1), "write -P 0x52 0 64k");
    const s2 = await eng.post<Snap>(`/vms/${vm}/snapshots`, { description: "later" });
    await until("s2 ok", async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s2.id}`)).snapshot_status === "ok" ? true : undefined));
    const L2 = await leafId();
    qio(path(L2), "write -P 0x53 0 64k");
    const imageDir = join(dirA, sdA, "images", d.id);

    // Refusals first: each is a clear fault and changes nothing, in the records or on disk.
    const stateBefore = await snapState();
    const filesBefore = readdirSync(imageDir).sort();
    const active = items<Snap>((await eng.api("GET", `/vms/${vm}/snapshots`)).json, "snapshot").find((x) => x.snapshot_type === "active") as Snap;
    for (const [what, action, body, code] of [
      ["an unknown snapshot", "previewsnapshot", { snapshot: { id: NOPE } }, 404],
      ["no snapshot named", "previewsnapshot", {}, 400],
      ["the active snapshot", "previewsnapshot", { snapshot: { id: active.id } }, 409],
      ["memory restore", "previewsnapshot", { snapshot: { id: s1.id }, restore_memory: true }, 400],
      ["commit with nothing in preview", "commitsnapshot", {}, 409],
      ["undo with nothing in preview", "undosnapshot", {}, 409],
    ] as const) {
      const r = await eng.api("POST", `/vms/${vm}/${action}`, { body });
      assert.equal(r.status, code, `${what}: ${r.text}`);
      assert.ok(String(r.json?.detail ?? r.json?.reason).length > 0, `${what}: the fault says why`);
    }
    assert.equal((await eng.api("POST", `/vms/${NOPE}/previewsnapshot`, { body: { snapshot: { id: s1.id } } })).status, 404, "an unknown VM");
    assert.deepEqual(await snapState(), stateBefore);
    assert.deepEqual(readdirSync(imageDir).sort(), filesBefore);
    assert.equal(await leafId(), L2);

    // Preview s1: a new leaf on s1's volume, beside the current chain.
    const pv = await eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: s1.id }, async: false } });
    assert.equal(pv.status, 200, pv.text);
    const P = await leafId();
    assert.ok(![L0, L1, L2].includes(P), "the VM's disk is a new volume");
    assert.deepEqual([meta(path(P)).PUUID, meta(path(P)).VOLTYPE], [L0, "LEAF"]);
    assert.equal(meta(path(L0)).VOLTYPE, "INTERNAL");
    assert.equal(meta(path(L2)).VOLTYPE, "LEAF", "the old leaf is kept beside the preview");
    assert.ok(reads(path(P), 0x51), "the preview shows the snapshot's data");
    assert.ok(reads(path(L2), 0x53), "the old leaf keeps what was written after");
    assert.deepEqual(await snapState(), ["Active VM before the preview|preview|ok", "Active VM|active|ok", "base|regular|in_preview", "later|regular|ok"]);
    assert.deepEqual(await checkDomain(join(dirA, sdA)), [], "the branched image passes the on-disk checker");
    for (const [what, method, url, body] of [
      ["a snapshot during a preview", "POST", `/vms/${vm}/snapshots`, { description: "during" }],
      ["a second preview", "POST", `/vms/${vm}/previewsnapshot`, { snapshot: { id: s2.id } }],
      ["a restore during a preview", "POST", `/vms/${vm}/snapshots/${s2.id}/restore`, {}],
      ["removing a snapshot during a preview", "DELETE", `/vms/${vm}/snapshots/${s2.id}`, undefined],
    ] as const) {
      const r = await eng.api(method, url, body === undefined ? {} : { body });
      assert.equal(r.status, 409, `${what}: ${r.text}`);
    }

    // The VM runs on the preview leaf; commit and undo wait until it is down.
    assert.equal((await eng.api("POST", `/vms/${vm}/start`, { body: {} })).status, 200);
    await until("VM up", async () => ((await eng.get<{ status: string }>(`/vms/${vm}`)).status === "up" ? true : undefined), 60_000);
    const cmd = qemuCmdline(vm);
    assert.ok(cmd.includes(P) && !cmd.includes(L2), "QEMU opened the preview leaf, not the old one");
    for (const a of ["commitsnapshot", "undosnapshot"]) {
      const r = await eng.api("POST", `/vms/${vm}/${a}`, { body: {} });
      assert.equal(r.status, 409, `${a} while running: ${r.text}`);
      assert.match(String(r.json?.detail), /running/);
    }
    await stopVm(vm);

    // Undo: the preview leaf goes, the old leaf is the disk again.
    const undo = await eng.api("POST", `/vms/${vm}/undosnapshot`, { body: { async: false } });
    assert.equal(undo.status, 200, undo.text);
    assert.equal(await leafId(), L2);
    assert.equal(existsSync(path(P)) || existsSync(`${path(P)}.meta`), false, "the preview leaf is deleted");
    assert.equal(meta(path(L0)).VOLTYPE, "INTERNAL");
    assert.ok(reads(path(L2), 0x53), "undo returns to the state before the preview");
    assert.deepEqual(await snapState(), stateBefore);
    assert.deepEqual(readdirSync(imageDir).sort(), filesBefore);

    // Preview is refused while the VM runs (oVirt: the VM must be down), and changes nothing.
    assert.equal((await eng.api("POST", `/vms/${vm}/start`, { body: {} })).status, 200);
    await until("VM up again", async () => ((await eng.get<{ status: string }>(`/vms/${vm}`)).status === "up" ? true : undefined), 60_000);
    const running = await eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: { snapshot: { id: s1.id } } });
    assert.equal(running.status, 409, running.text);
    assert.match(String(running.json?.detail), /running/);
    assert.deepEqual(readdirSync(imageDir).sort(), filesBefore);
    await stopVm(vm);
    assert.deepEqual(await snapState(), stateBefore);

    // Preview again (in XML, as the SDKs send it), as the guest writes, and commit: the old
    // branch (L1, L2) and the snapshot taken after the previewed one go; the preview leaf is the disk.
    const pvx = await eng.api("POST", `/vms/${vm}/previewsnapshot`, { body: `<action><snapshot id="${s1.id}"/><async>false</async></action>`, accept: "xml" });
    assert.equal(pvx.status, 200, pvx.text);
    assert.match(pvx.text, /<status>complete<\/status>/);
    const P2 = await leafId();
    qio(path(P2), "write -P 0x54 0 64k");
    const commit = await eng.api("POST", `/vms/${vm}/commitsnapshot`, { body: { async: false } });
    assert.equal(commit.status, 200, commit.text);
    assert.equal(await leafId(), P2);
    for (const v of [L1, L2]) assert.equal(existsSync(`${path(v)}.meta`), false, `${v} of the discarded branch is deleted`);
    assert.deepEqual(readdirSync(imageDir).filter((f) => f.endsWith(".meta")).sort(), [`${L0}.meta`, `${P2}.meta`].sort());
    assert.equal(meta(path(L0)).VOLTYPE, "INTERNAL");
    assert.ok(reads(path(P2), 0x54) && reads(path(L0), 0x51));
    assert.equal((await eng.api("GET", `/vms/${vm}/snapshots/${s2.id}`)).status, 404, "the later snapshot is gone");
    assert.deepEqual(await snapState(), ["Active VM|active|ok", "base|regular|ok"]);
    assert.deepEqual(await checkDomain(join(dirA, sdA)), []);
    const job = items<Job>((await eng.api("GET", "/jobs")).json, "job").find((j) => j.description.startsWith("Committing Snapshot 'base'"));
    assert.equal(job?.status, "finished");
    assert.ok((await steps((job as Job).id)).some((x) => x.description.startsWith("Deleting volumes")));
  });

  test("a running VM takes snapshots live: it stays up and its guest writes into the new leaf; bad input and states are refused; removing them merges live", async (t) => {
    const d = await newDisk("livedisk", sdA, 64 * MiB);
    const vm = (
      await eng.post<{ id: string }>("/vms", {
        name: "live-vm",
        cluster: { id: clusterId },
        memory: 192 * MiB,
        os: { type: "other_linux", kernel: join(guestDir, "vmlinuz"), initrd: join(guestDir, "initrd.img"), cmdline: "console=ttyS0 vela.rate=2" },
      })
    ).id;
    assert.equal((await eng.api("POST", `/vms/${vm}/diskattachments`, { body: { disk: { id: d.id }, interface: "virtio", bootable: true } })).status, 201);
    vmIds.push(vm);
    const path = (v: string) => volPath(dirA, sdA, d.id, v);
    const leafId = async () => (await eng.get<Disk>(`/disks/${d.id}`)).image_id;
    const chain = (v: string) =>
      (JSON.parse(execFileSync("qemu-img", ["info", "-U", "--backing-chain", "--output=json", path(v)], { encoding: "utf8" })) as { filename: string }[]).map((c) => c.filename.split("/").pop());
    const size = (v: string) => (JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path(v)], { encoding: "utf8" })) as { "actual-size": number })["actual-size"];
    const snapState = async () => items<Snap>((await eng.api("GET", `/vms/${vm}/snapshots`)).json, "snapshot").map((s) => `${s.description}|${s.snapshot_status}`);
    const L0 = d.image_id;

    // A VM that is only being launched cannot take one yet (oVirt: up, paused or down only).
    assert.equal((await eng.api("POST", `/vms/${vm}/start`, { body: {} })).status, 200);
    const early = await eng.api("POST", `/vms/${vm}/snapshots`, { body: { description: "too early" } });
    assert.equal(early.status, 409, early.text);
    assert.match(String(early.json?.detail), /wait_for_launch|powering_up/);
    await until("VM up", async () => ((await eng.get<{ status: string }>(`/vms/${vm}`)).status === "up" ? true : undefined), 60_000);
    const pid = qemuOf(vm)[0];

    const s1 = await eng.post<Snap>(`/vms/${vm}/snapshots`, { description: "live1" });
    await until("live1 ok", async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s1.id}`)).snapshot_status === "ok" ? true : undefined));
    const L1 = await leafId();
    assert.notEqual(L1, L0);
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "up", "the VM stays up");
    assert.deepEqual(qemuOf(vm), [pid], "the same QEMU runs it");
    assert.deepEqual(chain(L1), [L1, L0], "QEMU's chain: the new leaf on the old one");
    assert.equal(meta(path(L0)).VOLTYPE, "INTERNAL");
    const job = items<Job>((await eng.api("GET", "/jobs")).json, "job").find((j) => j.description.startsWith("Creating VM Snapshot 'live1'"));
    assert.ok(job && (await steps(job.id)).some((x) => x.description.startsWith("Switching the running VM") && x.status === "finished"), "the switch is a step of the job");
    const s0 = size(L1);
    await until("the guest's writes grow the new leaf", async () => (size(L1) > s0 + 2 * MiB ? true : undefined), 60_000);

    // A second one stacks on the first.
    const s2 = await eng.post<Snap>(`/vms/${vm}/snapshots`, { description: "live2" });
    await until("live2 ok", async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s2.id}`)).snapshot_status === "ok" ? true : undefined));
    const L2 = await leafId();
    assert.deepEqual(chain(L2), [L2, L1, L0]);
    const s2size = size(L2);
    await until("the guest's writes grow the newest leaf", async () => (size(L2) > s2size + 2 * MiB ? true : undefined), 60_000);

    // Refusals change nothing: an unknown disk, memory state, removal or restore while running.
    const imageDir = join(dirA, sdA, "images", d.id);
    const files = readdirSync(imageDir).sort();
    const before = await snapState();
    const unknown = await eng.api("POST", `/vms/${vm}/snapshots`, { body: { description: "x", disk_attachments: { disk_attachment: [{ disk: { id: NOPE } }] } } });
    assert.equal(unknown.status, 404, unknown.text);
    const mem = await eng.api("POST", `/vms/${vm}/snapshots`, { body: { description: "m", persist_memorystate: true } });
    assert.equal(mem.status, 400, mem.text);
    assert.match(String(mem.json?.detail), /memory state/);
    const restore = await eng.api("POST", `/vms/${vm}/snapshots/${s1.id}/restore`, { body: {} });
    assert.equal(restore.status, 409, `restore while running: ${restore.text}`);
    assert.match(String(restore.json?.detail), /running/);
    const noSnap = await eng.api("DELETE", `/vms/${vm}/snapshots/${NOPE}`);
    assert.equal(noSnap.status, 404, `removing an unknown snapshot while running: ${noSnap.text}`);
    assert.match(noSnap.text, /fault|reason/i);
    assert.deepEqual(readdirSync(imageDir).sort(), files);
    assert.deepEqual(await snapState(), before);
    assert.equal(await leafId(), L2);

    // QEMU refuses the switch (the agent restarted with a test fault that adds a bad action to
    // the transaction): the job fails, the VM runs on as before, the new leaf is deleted.
    await node.stop();
    await until("the engine sees the agent gone", async () => (items<{ status: string }>((await eng.api("GET", "/hosts")).json, "host")[0]?.status !== "up" ? true : undefined), 30_000);
    node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "img-host", runDir: node.runDir, port: node.port, env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: guestDir, VELA_TEST_FAULTS: "virt.snapshot.transaction,virt.merge.commit,virt.merge.sync" } });
    await spmAgain();
    await until("the VM seen up again", async () => ((await eng.get<{ status: string }>(`/vms/${vm}`)).status === "up" ? true : undefined), 60_000);
    const refused = await eng.post<Snap>(`/vms/${vm}/snapshots`, { description: "refused" });
    await until("the refused snapshot is gone", async () => ((await eng.api("GET", `/vms/${vm}/snapshots/${refused.id}`)).status === 404 ? true : undefined), 60_000);
    const failed = items<Job>((await eng.api("GET", "/jobs")).json, "job").find((j) => j.description.startsWith("Creating VM Snapshot 'refused'"));
    assert.equal((await jobDone((failed as Job).id)).status, "failed");
    const fsteps = await steps((failed as Job).id);
    assert.ok(fsteps.some((x) => x.description.startsWith("Creating volume") && x.status === "finished"), JSON.stringify(fsteps));
    assert.ok(fsteps.some((x) => x.description.startsWith("Switching the running VM") && x.status === "failed"), `the switch failed: ${JSON.stringify(fsteps)}`);
    assert.equal(await leafId(), L2);
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok");
    assert.deepEqual(readdirSync(imageDir).sort(), files, "the new leaf is deleted");
    assert.deepEqual(await snapState(), before);
    assert.deepEqual(chain(L2), [L2, L1, L0]);
    assert.deepEqual(qemuOf(vm), [pid], "the VM still runs");
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "up");
    const s3size = size(L2);
    await until("the guest still writes into the same leaf", async () => (size(L2) > s3size + 2 * MiB ? true : undefined), 60_000);
    // The host refuses the live merge (block-commit names a node QEMU does not have): the job
    // fails, the snapshot stays, the chain and the VM are as they were.
    const refusedDel = await eng.api("DELETE", `/vms/${vm}/snapshots/${s1.id}`);
    assert.equal(refusedDel.status, 200, refusedDel.text);
    const mjob = await until("the refused merge's job", async () => items<Job>((await eng.api("GET", "/jobs")).json, "job").find((j) => j.description.startsWith("Removing Snapshot 'live1'")));
    assert.equal((await jobDone(mjob.id)).status, "failed");
    assert.ok((await steps(mjob.id)).some((x) => x.description.startsWith("Merging volume") && x.status === "failed"), "the merge step failed");
    await until("live1 ok again", async () => ((await eng.get<Snap>(`/vms/${vm}/snapshots/${s1.id}`)).snapshot_status === "ok" ? true : undefined));
    assert.deepEqual(await snapState(), before);
    assert.deepEqual(readdirSync(imageDir).sort(), files);
    assert.deepEqual(chain(L2), [L2, L1, L0]);
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok");
    assert.deepEqual(qemuOf(vm), [pid], "the VM still runs");
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "up");
    let seen: string[] = [];
    await until("an event says why the removal failed", async () => {
      seen = items<{ description: string }>((await eng.api("GET", "/events")).json, "event").map((ev) => ev.description);
      return seen.find((t) => /Removing Snapshot 'live1'.*failed.*QEMU refused the merge/.test(t));
    }).catch((err: unknown) => assert.fail(`${String(err)}; events: ${JSON.stringify(seen.filter((t) => t.includes("live1")))}`));

    // The active layer's merge pivots, but the host fails to update the volume metadata (test
    // fault virt.merge.sync): its job fails, yet the drive runs on the base, so the engine rolls
    // forward (undoing would lose the guest's writes since the pivot): live2 goes, L1 is the leaf.
    const fwd = await eng.api("DELETE", `/vms/${vm}/snapshots/${s2.id}?async=false`);
    assert.equal(fwd.status, 200, fwd.text);
    assert.deepEqual((await snapState()).sort(), ["Active VM|ok", "live1|ok"]);
    assert.equal(await leafId(), L1);
    assert.deepEqual(chain(L1), [L1, L0]);
    assert.ok(!readdirSync(imageDir).includes(L2), "the merged active volume is deleted");
    assert.equal(meta(path(L1)).VOLTYPE, "LEAF");
    assert.deepEqual(qemuOf(vm), [pid], "the VM still runs");
    const f1 = size(L1);
    await until("the guest writes into L1 now", async () => (size(L1) > f1 + 2 * MiB ? true : undefined), 60_000);
    await node.stop();
    await until("the engine sees the agent gone", async () => (items<{ status: string }>((await eng.api("GET", "/hosts")).json, "host")[0]?.status !== "up" ? true : undefined), 30_000);
    node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "img-host", runDir: node.runDir, port: node.port, env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: guestDir } });
    await spmAgain();
    await until("the VM seen up again", async () => ((await eng.get<{ status: string }>(`/vms/${vm}`)).status === "up" ? true : undefined), 60_000);

    // A third live snapshot: L3 on L1.
    const s3 = await eng.post<Snap>(`/vms/${vm}/snapshots`, { description: "live3" });
    await until("live3 ok", async () => {
      const r = await eng.api("GET", `/vms/${vm}/snapshots/${s3.id}`);
      if (r.status === 404) {
        const why = items<{ description: string }>((await eng.api("GET", "/events")).json, "event").filter((ev) => ev.description.includes("live3"));
        assert.fail(`live3 failed: ${JSON.stringify(why)}`);
      }
      return (r.json as unknown as Snap).snapshot_status === "ok" ? true : undefined;
    });
    const L3 = await leafId();
    assert.deepEqual(chain(L3), [L3, L1, L0]);

    // Live merge of a lower volume: live1's volume L0 takes in L1 (the guest writes into L3 all
    // along); L0 then reads what L1's chain read before, and L3 stands on L0.
    const frozen = join(tempDir("vela-img-merge-"), "l1.raw");
    execFileSync("qemu-img", ["convert", "-U", "-O", "raw", path(L1), frozen]);
    let t0 = performance.now();
    const del1 = await eng.api("DELETE", `/vms/${vm}/snapshots/${s1.id}?async=false`);
    t.diagnostic(`live merge of a lower volume (64 MiB disk, guest writing 2 MiB/s): ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(del1.status, 200, del1.text);
    assert.equal((await eng.api("GET", `/vms/${vm}/snapshots/${s1.id}`)).status, 404);
    assert.deepEqual((await snapState()).sort(), ["Active VM|ok", "live3|ok"]);
    assert.deepEqual(chain(L3), [L3, L0], "one volume fewer in the chain");
    assert.ok(!readdirSync(imageDir).includes(L1), "the merged volume is deleted");
    execFileSync("qemu-img", ["compare", "-U", "-f", "raw", "-F", "qcow2", frozen, path(L0)]);
    assert.deepEqual(qemuOf(vm), [pid], "the same QEMU runs the VM");
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "up");
    const ljob = items<Job>((await eng.api("GET", "/jobs")).json, "job").find((j) => j.description.startsWith("Removing Snapshot 'live1'") && j.status === "finished");
    assert.ok(ljob && (await steps(ljob.id)).some((x) => x.description.includes("on the running VM") && x.status === "finished"), "the live merge is a step of the job");
    const m1 = size(L3);
    await until("the guest writes on into its leaf", async () => (size(L3) > m1 + 2 * MiB ? true : undefined), 60_000);

    // Live merge of the active layer: L0 takes in L3, QEMU switches the drive onto L0, and the
    // guest writes into L0 from then on.
    t0 = performance.now();
    const del2 = await eng.api("DELETE", `/vms/${vm}/snapshots/${s3.id}?async=false`);
    t.diagnostic(`live merge of the active layer: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(del2.status, 200, del2.text);
    assert.deepEqual(await snapState(), ["Active VM|ok"]);
    assert.equal(await leafId(), L0);
    assert.deepEqual(chain(L0), [L0]);
    assert.ok(!readdirSync(imageDir).includes(L3), "the merged active volume is deleted");
    assert.equal(meta(path(L0)).VOLTYPE, "LEAF");
    assert.deepEqual(qemuOf(vm), [pid], "the same QEMU runs the VM");
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm}`)).status, "up");
    assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok");
    const m2 = size(L0);
    await until("the guest writes into the base now", async () => (size(L0) > m2 + 2 * MiB ? true : undefined), 60_000);
    // The node's statistics show the drive on L0 and both merge jobs done (VM.getStats vmJobs).
    type NodeStats = { disks: Record<string, { volumeID?: string }>; vmJobs?: Record<string, { status: string; topVolUUID: string }> };
    const nodeStats = async () => (await nodeCall<NodeStats[]>(node, "VM.getStats", { vmID: vm }))[0] as NodeStats;
    const st = await nodeStats();
    assert.deepEqual(Object.values(st.disks).map((x) => x.volumeID), [L0], JSON.stringify(st.disks));
    // QEMU keeps no merged (deleted) volume open: their nodes left the graph.
    const open = readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ""; } });
    assert.deepEqual(open.filter((l) => l.startsWith(imageDir) || l.includes(d.id)).filter((l) => !l.endsWith(L0)), [], "open volumes besides L0");
    assert.deepEqual(Object.values(st.vmJobs ?? {}).map((j) => `${j.topVolUUID}|${j.status}`).sort(), [`${L1}|done`, `${L3}|done`].sort(), JSON.stringify(st.vmJobs));
    // The node's record of the VM follows the shorter chain: an agent restart recovers the VM on L0.
    await node.stop();
    await until("the engine sees the agent gone", async () => (items<{ status: string }>((await eng.api("GET", "/hosts")).json, "host")[0]?.status !== "up" ? true : undefined), 30_000);
    node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "img-host", runDir: node.runDir, port: node.port, env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: guestDir } });
    await spmAgain();
    await until("the VM seen up again after the merges", async () => ((await eng.get<{ status: string }>(`/vms/${vm}`)).status === "up" ? true : undefined), 60_000);
    assert.deepEqual(qemuOf(vm), [pid], "the same QEMU runs the VM");
    assert.deepEqual(Object.values((await nodeStats()).disks).map((x) => x.volumeID), [L0], "the recovered record names L0");
    const m3 = size(L0);
    await until("the guest still writes into the base", async () => (size(L0) > m3 + 2 * MiB ? true : undefined), 60_000);

    // Down: every MiB the guest wrote (its one random MiB, repeated) reads back whole.
    await stopVm(vm);
    const whole = join(dirname(frozen), "l0.raw");
    execFileSync("qemu-img", ["convert", "-O", "raw", path(L0), whole]);
    const raw = readFileSync(whole);
    const zero = Buffer.alloc(MiB);
    const chunks = Array.from({ length: raw.length / MiB }, (_, i) => raw.subarray(i * MiB, (i + 1) * MiB));
    const written = chunks.filter((c) => !c.equals(zero));
    assert.ok(written.length >= 8, `the guest wrote ${written.length} MiB`);
    assert.equal(written.filter((c) => !c.equals(written[0] as Buffer)).length, 0, "every written MiB holds the guest's pattern");
    assert.deepEqual(await checkDomain(join(dirA, sdA)), []);
  });
});

describe("templates", () => {
  test("a template from a VM; thin and cloned VMs from it; removal refused while a VM is based on it", async () => {
    const d = await newDisk("tdisk");
    const src = await newVm("tmpl-src", d);
    qio(volPath(dirA, sdA, d.id, d.image_id), "write -P 0x55 0 64k");

    const tr = await eng.api("POST", "/templates", { body: { name: "t1", vm: { id: src } } });
    assert.equal(tr.status, 201, tr.text);
    const t = tr.json as { id: string; status: string };
    assert.equal(t.status, "locked");
    await until("template ok", async () => ((await eng.get<{ status: string }>(`/templates/${t.id}`)).status === "ok" ? true : undefined));
    const tatt = items<{ id: string }>((await eng.api("GET", `/templates/${t.id}/diskattachments`)).json, "disk_attachment");
    assert.equal(tatt.length, 1);
    const tdisk = await eng.get<Disk>(`/disks/${(tatt[0] as { id: string }).id}`);
    const tvol = volPath(dirA, sdA, tdisk.id, tdisk.image_id);
    assert.equal(meta(tvol).VOLTYPE, "SHARED");
    assert.ok(reads(tvol, 0x55));
    assert.equal((await eng.get<{ status: string }>(`/vms/${src}`)).status, "down");

    // Thin: a COW leaf on the template's volume, hard-linked into the new image.
    const thinRes = await eng.api("POST", "/vms", { body: { name: "thin", cluster: { id: clusterId }, template: { name: "t1" } } });
    assert.equal(thinRes.status, 201, thinRes.text);
    const thin = thinRes.json as { id: string; status: string };
    assert.equal(thin.status, "image_locked");
    await until("thin VM down", async () => ((await eng.get<{ status: string }>(`/vms/${thin.id}`)).status === "down" ? true : undefined));
    const thinDiskId = (items<{ id: string }>((await eng.api("GET", `/vms/${thin.id}/diskattachments`)).json, "disk_attachment")[0] as { id: string }).id;
    const thinDisk = await eng.get<Disk>(`/disks/${thinDiskId}`);
    const thinLeaf = volPath(dirA, sdA, thinDisk.id, thinDisk.image_id);
    assert.equal(meta(thinLeaf).PUUID, tdisk.image_id);
    assert.ok(statSync(tvol).nlink >= 2, "the template volume is hard-linked");
    assert.ok(reads(thinLeaf, 0x55));

    // Clone: an independent copy.
    const cl = await eng.api("POST", "/vms?clone=true&async=false", { body: { name: "cloned", cluster: { id: clusterId }, template: { id: t.id } } });
    assert.equal(cl.status, 201, cl.text);
    const clone = cl.json as { id: string; status: string };
    assert.equal(clone.status, "down");
    const cloneDiskId = (items<{ id: string }>((await eng.api("GET", `/vms/${clone.id}/diskattachments`)).json, "disk_attachment")[0] as { id: string }).id;
    const cloneDisk = await eng.get<Disk>(`/disks/${cloneDiskId}`);
    const cloneLeaf = volPath(dirA, sdA, cloneDisk.id, cloneDisk.image_id);
    assert.equal(meta(cloneLeaf).PUUID, BLANK);
    assert.ok(reads(cloneLeaf, 0x55));

    // Refusals: template in use, template disk removal or attachment, snapshot of a template.
    const rm = await eng.api("DELETE", `/templates/${t.id}`);
    assert.equal(rm.status, 409);
    assert.match(String(rm.json?.detail), /thin/);
    assert.equal((await eng.api("DELETE", `/disks/${tdisk.id}`)).status, 409);
    assert.equal((await eng.api("POST", `/vms/${src}/diskattachments`, { body: { disk: { id: tdisk.id } } })).status, 409);
    assert.equal((await eng.api("POST", `/vms/${t.id}/snapshots`, { body: { description: "of a template" } })).status, 404);
    assert.equal((await eng.api("POST", "/templates", { body: { name: "t1", vm: { id: src } } })).status, 409, "names are unique");
    assert.equal((await eng.api("POST", "/templates", { body: { name: "t2", vm: { id: NOPE } } })).status, 404);
    assert.equal((await eng.api("POST", "/templates", { body: { vm: { id: src } } })).status, 400);
    assert.equal((await eng.api("DELETE", `/templates/${BLANK}`)).status, 409, "Blank stays");
    assert.ok(existsSync(tvol));

    // Once the thin VM is gone the template can go; the clone keeps working.
    assert.equal((await eng.api("DELETE", `/vms/${thin.id}`)).status, 200);
    assert.equal(existsSync(thinLeaf), false);
    const rm2 = await eng.api("DELETE", `/templates/${t.id}`);
    assert.equal(rm2.status, 200, rm2.text);
    assert.equal(existsSync(join(dirA, sdA, "images", tdisk.id)), false, "the template's image is deleted");
    assert.equal((await eng.get<{ template: { id: string } }>(`/vms/${clone.id}`)).template.id, BLANK);
    assert.ok(reads(cloneLeaf, 0x55));

    const job = items<Job>((await eng.api("GET", "/jobs")).json, "job").find((j) => j.description === "Creating Template t1 from VM tmpl-src");
    assert.equal(job?.status, "finished");
    assert.ok((await steps((job as Job).id)).some((s) => s.description.startsWith("Copying disk tdisk") && s.status === "finished"));
  });
});
