/**
 * The whole path once, through public interfaces only: `vela up`'s machinery starts a real engine
 * and a real node; through REST we create a thin disk on the local domain, a VM with that disk,
 * start it (QEMU runs on the disk's leaf volume, the guest writes and the qcow2 grows), stop it.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { list, Rest } from "@vela/cli/rest";
import { up } from "@vela/cli/up";
import { freePort } from "@vela/node/test/harness";
import { testGuest } from "./support/guest.js";
import { findProcesses } from "./support/proc.js";
import { qemuImgInfo } from "./support/storage.js";
import { seedEnginePki } from "@vela/node/test/tls";
import { until } from "@vela/testkit";

let stop: () => Promise<void>;
let rest: Rest;
let home: string;

before(async () => {
  const guest = testGuest();
  process.env.VELA_NODE_BOOT_DIRS = guest.dir;
  home = mkdtempSync(join(tmpdir(), "vela-home-"));
  seedEnginePki(home); // the run's test CA: fetch() trusts it
  const started = await up({ hosts: 1, home, enginePort: await freePort(), nodePort: await freePort() });
  stop = started.stop;
  rest = new Rest(started.info.url, started.info.user, started.info.password);
});
after(async () => {
  // Never leave a guest running when an assertion failed half-way.
  for (const p of findProcesses("qemu-system", home)) process.kill(p.pid, "SIGKILL");
  await stop?.();
});

interface Disk {
  id: string;
  image_id: string;
  status: string;
  provisioned_size: string | number;
}

test("disk → VM → start → guest writes, qcow2 grows → stop → down, QEMU gone", async () => {
  const guest = testGuest();
  const disk = await rest.post<Disk>("/disks", {
    name: "skeleton-disk",
    provisioned_size: 2 ** 30,
    format: "cow",
    sparse: true,
    storage_domains: { storage_domain: [{ name: "local" }] },
  });
  assert.equal(disk.status, "locked", "a new disk is locked until the node's task finishes");
  const ready = await until("disk ok", async () => {
    const d = await rest.get<Disk>(`/disks/${disk.id}`);
    return d.status === "ok" ? d : undefined;
  }, 60_000);
  assert.equal(Number(ready.provisioned_size), 2 ** 30);

  const sds = list<{ id: string; name: string }>(await rest.get("/storagedomains"), "storage_domain");
  const sd = sds.find((s) => s.name === "local")!;
  const leaf = join(home, "storage/local", sd.id, "images", disk.id, ready.image_id);
  assert.ok(existsSync(leaf), `leaf volume file ${leaf}`);
  const before = qemuImgInfo(leaf);
  assert.equal(before.format, "qcow2");

  const vm = await rest.post<{ id: string; status: string }>("/vms", {
    name: "skeleton-vm",
    cluster: { name: "Default" },
    template: { name: "Blank" },
    memory: 256 * 2 ** 20,
    os: { type: "other_linux", kernel: guest.kernel, initrd: guest.initrd, cmdline: "console=ttyS0 vela.write=48" },
  });
  assert.equal(vm.status, "down");
  await rest.post(`/vms/${vm.id}/diskattachments`, { disk: { id: disk.id }, interface: "virtio", bootable: true, active: true });

  await rest.post(`/vms/${vm.id}/start`, {});
  await until("vm up", async () => ((await rest.get<{ status: string }>(`/vms/${vm.id}`)).status === "up" ? true : undefined), 60_000);
  // The node opens the volume through its pool view (<run>/data-center/<sp>/<sd>/images/…),
  // a link to the same file; match on the image/volume part of the path.
  const volumeRef = `images/${disk.id}/${ready.image_id}`;
  const qemu = findProcesses("qemu-system", volumeRef);
  assert.equal(qemu.length, 1, "exactly one QEMU runs on the leaf volume");
  assert.ok(!qemu[0]!.argv.join(" ").includes(`${volumeRef}.`), "it opens the leaf itself, not a sibling file");

  const consoleLog = join(home, "nodes/node-1/vms", vm.id, "console.log");
  const consoleText = () => (existsSync(consoleLog) ? readFileSync(consoleLog, "utf8") : "");
  await until("guest wrote its data", () => (consoleText().includes("GUEST-WRITE-DONE") ? true : undefined), 180_000, 500).catch(async (e: Error) => {
    // Say why: a stalled guest is a paused VM (I/O error, full disk), a slow one, or a hung kernel.
    const v = await rest.get<{ status: string }>(`/vms/${vm.id}`).catch(() => ({ status: "?" }));
    const free = statfsSync(home);
    throw new Error(`${e.message}; vm ${v.status}; ${Math.round((free.bavail * free.bsize) / 2 ** 20)} MiB free; console ends:\n${consoleText().slice(-1500)}`);
  });
  const grown = qemuImgInfo(leaf);
  assert.ok(
    grown["actual-size"] >= before["actual-size"] + 40 * 2 ** 20,
    `qcow2 allocation grew by the guest's 48 MiB (${before["actual-size"]} → ${grown["actual-size"]})`,
  );

  await rest.post(`/vms/${vm.id}/stop`, {});
  await until("vm down", async () => ((await rest.get<{ status: string }>(`/vms/${vm.id}`)).status === "down" ? true : undefined), 30_000);
  await until("QEMU gone", () => (findProcesses("qemu-system", volumeRef).length === 0 ? true : undefined), 10_000);
});
