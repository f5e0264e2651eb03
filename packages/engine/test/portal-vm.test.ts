/**
 * VM work in the portal in a real browser (Chromium via playwright-core) against a real engine
 * and node with two local data domains: New VM with a new thin disk, a NIC and cloud-init (bad
 * input refused in the page, the engine's fault shown in its words); a snapshot created,
 * previewed and undone from the snapshots panel; the VM's disk moved to the other domain from
 * the Disks page with its progress bar (fed by the event stream) reaching 100 %; Migrate with one
 * host says there is nowhere to go.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { launch, newTab, open, see, shot, signIn, type Tab } from "./browser.js";
import { addLocalDomain, type Engine, firstDcId, hostUp, items, type Node, type Snap, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "portal-vm";
let eng: Engine;
let node: Node;
let browser: Browser | undefined;
let tab: Tab;
let sdA = "";
let sdB = "";
let vmId = "";

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "pvm-host", env: { VELA_NODE_ACCEL: "tcg" } });
  const h = await hostUp(eng);
  const dc = await firstDcId(eng);
  sdA = await addLocalDomain(eng, dc, h.id, "pvm-a", tempDir("vela-pvm-a-"));
  sdB = await addLocalDomain(eng, dc, h.id, "pvm-b", tempDir("vela-pvm-b-"));
  browser = await launch();
  tab = await newTab(browser);
  await open(tab, `${eng.url}/`);
  await signIn(tab, eng.user, eng.password);
  await see(tab, "the VM list", tab.page.getByRole("heading", { name: "Virtual machines", exact: true }));
});

after(async () => {
  await browser?.close();
  await node?.stop();
  await eng?.stop();
});

const form = () => tab.page.locator("form", { has: tab.page.getByRole("heading", { name: "New virtual machine" }) });

test("portal New VM: a thin disk on a picked domain, a NIC and cloud-init; bad input refused in the page, the engine's fault shown", async () => {
  const { page } = tab;
  await page.getByRole("button", { name: "New VM" }).click();
  const f = await see(tab, "the New VM form", form());
  await f.getByLabel("Name", { exact: true }).fill("pvm");
  await f.getByLabel("Template").selectOption({ label: "Blank" });
  await f.getByLabel("Memory (MiB)").fill("128");
  await f.getByRole("button", { name: "Add disk" }).click();
  await f.getByLabel("Disk 1 size (GiB)").fill("0");
  await f.getByRole("button", { name: "Create" }).click();
  assert.match(await f.getByRole("alert").innerText(), /Disk 1: a size in GiB/);
  await f.getByLabel("Disk 1 size (GiB)").fill("1");
  await f.getByLabel("Disk 1 storage domain").selectOption({ label: "pvm-a" });
  await f.getByLabel("Disk 1 allocation").selectOption("thin");
  await f.getByRole("button", { name: "Add NIC" }).click();
  const offered = f.getByLabel("NIC 1 vNIC profile").locator("option", { hasText: "ovirtmgmt" });
  await until("the ovirtmgmt vNIC profile offered", async () => ((await offered.count()) > 0 ? true : undefined), 15_000);
  await f.getByLabel("NIC 1 vNIC profile").selectOption({ label: "ovirtmgmt" });
  await f.getByLabel("SSH keys").fill("not a key");
  await f.getByRole("button", { name: "Create" }).click();
  assert.match(await f.getByRole("alert").innerText(), /SSH keys: line 1 is not a public key/);
  await f.getByLabel("SSH keys").fill("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHv3c0f0bC1ZpT0aGlq7b7oCkF6ZQX2v3u9cS7tH5bJ0 ulla@example");
  await f.getByLabel("Host name", { exact: true }).fill("pvm");
  // The engine refuses what the page lets through: a password with a control character.
  await f.getByLabel("Root password").fill("bad\u0007password");
  await f.getByRole("button", { name: "Create" }).click();
  await see(tab, "the engine's fault", f.getByRole("alert").filter({ hasText: /control characters/ }));
  assert.equal(items(await eng.get("/vms"), "vm").length, 0, "nothing was created");
  await shot(tab, "new-vm-wizard");
  await f.getByLabel("Root password").fill("Guest-Secret-1");
  await f.getByRole("button", { name: "Create" }).click();
  await form()
    .waitFor({ state: "detached", timeout: 60_000 })
    .catch(async () => {
      throw new Error(`the form stayed open: ${await form().innerText()}`);
    });
  const row = page.locator("tbody tr", { has: page.locator(".name", { hasText: /^pvm$/ }) });
  await see(tab, "pvm in the list", row, 30_000);
  const vm = items<{ id: string; name: string; initialization?: { host_name?: string; authorized_ssh_keys?: string } }>(await eng.get("/vms"), "vm").find((v) => v.name === "pvm");
  assert.ok(vm, "pvm exists");
  vmId = vm.id;
  const full = await eng.get<{ initialization?: { host_name?: string; authorized_ssh_keys?: string } }>(`/vms/${vmId}`);
  assert.equal(full.initialization?.host_name, "pvm", `cloud-init kept: ${JSON.stringify(full.initialization)}`);
  const atts = items<{ id: string; bootable: string }>(await eng.get(`/vms/${vmId}/diskattachments`), "disk_attachment");
  assert.equal(atts.length, 1, "one disk attached");
  const disk = await until("the new disk ok", async () => {
    const d = await eng.get<{ status: string; sparse: string; format: string; provisioned_size: string; storage_domains: { storage_domain: { id: string }[] } }>(`/disks/${atts[0]?.id}`);
    return d.status === "ok" ? d : undefined;
  }, 60_000);
  assert.deepEqual([disk.format, disk.sparse, disk.provisioned_size, disk.storage_domains.storage_domain[0]?.id], ["cow", "true", String(2 ** 30), sdA]);
  const nics = items<{ name: string }>(await eng.get(`/vms/${vmId}/nics`), "nic");
  assert.deepEqual(nics.map((n) => n.name), ["nic1"]);
});

test("portal snapshots: create, preview and undo from the snapshots panel", async () => {
  const { page } = tab;
  await page.getByRole("button", { name: "Snapshots of pvm" }).click();
  const panel = await see(tab, "the snapshots panel", page.locator("section.panel", { has: page.getByRole("heading", { name: "Snapshots of pvm" }) }));
  await panel.getByRole("button", { name: "Create snapshot" }).click();
  assert.match(await panel.getByRole("alert").innerText(), /Description: 1 to 255/, "an empty description is refused before sending");
  await panel.getByLabel("New snapshot").fill("before-change");
  await panel.getByRole("button", { name: "Create snapshot" }).click();
  const snapRow = panel.locator("tbody tr", { hasText: "before-change" });
  await see(tab, "the snapshot, ok", snapRow.locator(".badge", { hasText: /^ok$/ }), 60_000);
  await panel.getByRole("button", { name: "Preview before-change" }).click();
  await see(tab, "the preview notice", panel.getByText("runs from a snapshot preview"), 60_000);
  await see(tab, "the snapshot in preview", snapRow.locator(".badge", { hasText: "preview" }), 60_000);
  const inPreview = items<Snap>(await eng.get(`/vms/${vmId}/snapshots`), "snapshot").find((s) => s.description === "before-change");
  assert.equal(inPreview?.snapshot_status, "in_preview");
  await shot(tab, "snapshots-preview");
  await panel.getByRole("button", { name: "Undo" }).click();
  await see(tab, "the snapshot ok again", snapRow.locator(".badge", { hasText: /^ok$/ }), 60_000);
  await until("the preview gone in the API", async () => {
    const snaps = items<Snap>(await eng.get(`/vms/${vmId}/snapshots`), "snapshot");
    return snaps.every((s) => s.snapshot_status === "ok") && !snaps.some((s) => s.snapshot_type === "preview") ? true : undefined;
  }, 30_000);
  assert.equal(await panel.getByText("runs from a snapshot preview").count(), 0, "no preview notice");
  await panel.getByRole("button", { name: "Close snapshots" }).click();
});

test("portal migrate: with one host the page says there is nowhere to migrate to", async () => {
  // Migrate is offered for running VMs only; the check for other hosts happens before any request.
  const { page } = tab;
  const r = await eng.api("POST", `/vms/${vmId}/start`, { body: {} });
  assert.equal(r.status, 200, r.text);
  await see(tab, "Migrate offered", page.getByRole("button", { name: "Migrate pvm" }), 60_000);
  await page.getByRole("button", { name: "Migrate pvm" }).click();
  await see(tab, "nowhere to migrate", page.getByRole("alert").filter({ hasText: "pvm-host is the only host in the cluster: there is no other host to migrate pvm to." }));
  const stop = await eng.api("POST", `/vms/${vmId}/stop`, { body: {} });
  assert.equal(stop.status, 200, stop.text);
  await see(tab, "pvm down", page.locator("tbody tr", { has: page.locator(".name", { hasText: /^pvm$/ }) }).locator(".badge", { hasText: /^down$/ }), 60_000);
});

test("portal disk move: the progress bar reaches 100 % and the disk is on the other domain", async () => {
  const { page } = tab;
  await page.getByRole("link", { name: "Disks" }).click();
  const row = page.locator("tbody tr", { hasText: "pvm_disk1" });
  await see(tab, "the disk", row.locator(".badge", { hasText: /^ok$/ }));
  await row.getByRole("button", { name: "Move pvm_disk1" }).click();
  const dialog = await see(tab, "the move dialog", page.getByRole("dialog"));
  await dialog.getByLabel("To storage domain").selectOption({ label: "pvm-b" });
  await dialog.getByRole("button", { name: "Move" }).click();
  const bar = await see(tab, "the progress bar", page.getByRole("progressbar", { name: "Moving pvm_disk1 to pvm-b" }));
  await until("the bar at 100", async () => ((await bar.getAttribute("value")) === "100" ? true : undefined), 60_000, 200).catch(async (e: Error) => {
    throw new Error(`${e.message}; bar at ${await bar.getAttribute("value")}; row: ${await row.innerText()}`);
  });
  await see(tab, "100 %", row.getByText("100 %"));
  await shot(tab, "disk-move");
  const d = await until("the disk on pvm-b", async () => {
    const x = await eng.get<{ status: string; storage_domains: { storage_domain: { id: string }[] } }>(`/disks/${items<{ id: string }>(await eng.get(`/vms/${vmId}/diskattachments`), "disk_attachment")[0]?.id}`);
    return x.status === "ok" && x.storage_domains.storage_domain[0]?.id === sdB ? x : undefined;
  }, 30_000);
  assert.equal(d.storage_domains.storage_domain[0]?.id, sdB);
  await see(tab, "the row names the new domain", row.getByText("pvm-b"));
});

test("portal charts: the host's last hour (CPU, memory, network, disk) from the statistics history; storage over-commit", async () => {
  const { page } = tab;
  const host = (await hostUp(eng)).id;
  const hist = await until("two host points", async () => {
    const h = await eng.get<{ sample?: { time: string; cpu: string; memory_used: string }[] }>(`/hosts/${host}/statistics/history`);
    return (h.sample?.length ?? 0) >= 2 ? h.sample : undefined;
  }, 60_000, 500);
  for (const s of hist ?? []) {
    assert.ok(Number(s.cpu) >= 0 && Number(s.cpu) <= 100, `cpu in percent: ${JSON.stringify(s)}`);
    assert.ok(Number(s.memory_used) > 0, `memory used: ${JSON.stringify(s)}`);
  }
  const times = (hist ?? []).map((s) => Number(s.time));
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "oldest first");
  assert.ok(Date.now() - (times[0] as number) <= 3_600_000, "within the last hour");
  assert.equal((await eng.api("GET", "/hosts/not-a-host/statistics/history")).status, 404, "a bad id is a 404");

  await page.getByRole("link", { name: "Hosts" }).click();
  await page.getByRole("button", { name: "Charts of pvm-host" }).click();
  const panel = await see(tab, "the charts", page.locator("section.panel", { has: page.getByRole("heading", { name: "Last hour of pvm-host" }) }));
  for (const title of ["CPU", "Memory", "Network", "Disk I/O"]) {
    await see(tab, `the ${title} chart`, panel.getByRole("figure", { name: `${title} of pvm-host` }).locator("canvas"));
  }
  const points = Number(await panel.locator("[data-points]").getAttribute("data-points"));
  assert.ok(points >= 2, `points drawn: ${points}`);
  await shot(tab, "host-charts");
  await panel.getByRole("button", { name: "Close charts" }).click();

  await page.getByRole("link", { name: "Storage domains" }).click();
  const row = page.locator("tbody tr", { hasText: "pvm-b" });
  await see(tab, "pvm-b", row);
  assert.match(await row.innerText(), /\d+\.\d\d×/, "the over-commit ratio");
  await shot(tab, "storage");
});

test("portal storage wizard: a local data domain made and attached from the page; a relative path refused in the page, a system directory by the engine", async () => {
  const { page } = tab;
  await page.getByRole("link", { name: "Storage domains" }).click();
  await page.getByRole("button", { name: "New storage domain" }).click();
  const f = await see(tab, "the wizard", page.locator("form", { has: page.getByRole("heading", { name: "New storage domain" }) }));
  await f.getByLabel("Name", { exact: true }).fill("pvm-c");
  await f.getByLabel("Storage", { exact: true }).selectOption("localfs");
  await f.getByLabel("Path").fill("relative/dir");
  await f.getByRole("button", { name: "Create" }).click();
  assert.match(await f.getByRole("alert").innerText(), /Path: an absolute path/);
  await f.getByLabel("Path").fill("/etc");
  await f.getByRole("button", { name: "Create" }).click();
  await see(tab, "the engine's fault", f.getByRole("alert").filter({ hasText: /system directory/ }));
  await f.getByLabel("Storage", { exact: true }).selectOption("block");
  await f.getByRole("button", { name: "Create" }).click();
  assert.match(await f.getByRole("alert").innerText(), /Pick at least one LUN/);
  await f.getByLabel("Storage", { exact: true }).selectOption("localfs");
  const dir = tempDir("vela-pvm-c-");
  await f.getByLabel("Path").fill(dir);
  await shot(tab, "new-storage-domain");
  await f.getByRole("button", { name: "Create" }).click();
  await f.waitFor({ state: "detached", timeout: 90_000 }).catch(async () => {
    throw new Error(`the wizard stayed open: ${await f.innerText()}`);
  });
  const sd = await until("pvm-c attached", async () => {
    const x = items<{ id: string; name: string; data_centers?: { data_center?: { id: string }[] } }>(await eng.get("/storagedomains"), "storage_domain").find((d) => d.name === "pvm-c");
    return x?.data_centers?.data_center?.length ? x : undefined;
  }, 60_000);
  assert.ok(sd, "pvm-c is in a data center");
  await see(tab, "pvm-c in the list", page.locator("tbody tr", { hasText: "pvm-c" }));
});
