/**
 * VM work in the portal in a real browser (Chromium via playwright-core) against a real engine
 * and node with two local data domains: New VM with a new thin disk, a NIC and cloud-init (bad
 * input refused in the page, the engine's fault shown in its words); a snapshot created,
 * previewed and undone from the snapshots panel; the VM's disk moved to the other domain from
 * the Disks page with its progress bar (fed by the event stream) reaching 100 %; a running VM is
 * offered no Migrate (the engine serves none); a network made with the New network wizard (bad input refused
 * in the page, a taken name by the engine), its vNIC profiles listed, added and removed, detached from
 * and attached to its cluster (refused while a VM's NIC uses it, and for ovirtmgmt), and the network removed. The same set-up (a VM with a disk and a NIC) serves the
 * Prometheus endpoint's test: the scrape parses as the text format, its figures agree with the
 * statistics API for the same objects, a name with quotes, a backslash and a newline is escaped,
 * and only a holder of an administrative role on the system may read it (401 and 403 faults).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Browser } from "playwright-core";
import pg from "pg";
import { launch, newTab, open, see, shot, signIn, type Tab } from "./browser.js";
import { databaseFor, testDb } from "./pg.js";
import { parsePrometheus, type PromFamily, sampleOf } from "./promtext.js";
import { addLocalDomain, type Engine, firstClusterId, firstDcId, hostUp, items, type Node, type Snap, startEngine, startNode, tempDir, until } from "./support.js";

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

test("portal VM actions: a running VM is offered only what the engine serves (no Migrate: no live migration yet)", async () => {
  const { page } = tab;
  const r = await eng.api("POST", `/vms/${vmId}/start`, { body: {} });
  assert.equal(r.status, 200, r.text);
  const row = page.locator("tbody tr", { has: page.locator(".name", { hasText: /^pvm$/ }) });
  await see(tab, "Suspend offered (pvm up)", row.getByRole("button", { name: "Suspend pvm" }), 60_000);
  const offered = await row.locator(".actions button").allInnerTexts();
  assert.ok(!offered.some((t) => /migrat/i.test(t)), `no Migrate button: ${offered.join(", ")}`);
  // every VM action the page offers is one the VM's representation advertises
  const vm = await eng.get<{ actions?: { link?: { rel: string }[] } }>(`/vms/${vmId}`);
  const served = new Set((vm.actions?.link ?? []).map((l) => l.rel));
  assert.ok(!served.has("migrate"), "the engine does not advertise migrate");
  const asAction: Record<string, string> = { Shutdown: "shutdown", "Power off": "stop", Reboot: "reboot", Suspend: "suspend", Console: "ticket" };
  for (const t of offered) if (asAction[t]) assert.ok(served.has(asAction[t] as string), `${t} is served: ${[...served].join(", ")}`);
  const stop = await eng.api("POST", `/vms/${vmId}/stop`, { body: {} });
  assert.equal(stop.status, 200, stop.text);
  await see(tab, "pvm down", row.locator(".badge", { hasText: /^down$/ }), 60_000);
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

test("portal networks: a network made with the wizard (VLAN, MTU, a second vNIC profile, attached to a cluster), bad input refused in the page, a taken name by the engine; profiles added and removed; detached from a cluster (confirmed; refused while a VM NIC uses it, and for ovirtmgmt) and attached again; the network removed", async () => {
  const { page } = tab;
  await page.getByRole("link", { name: "Networks" }).click();
  await see(tab, "the networks page", page.getByRole("heading", { name: "Networks", exact: true }));
  await see(tab, "ovirtmgmt's profile listed", page.locator("tbody tr", { has: page.locator(".name", { hasText: /^ovirtmgmt$/ }) }).locator(".profiles", { hasText: "ovirtmgmt" }));
  await page.getByRole("button", { name: "New network" }).click();
  const f = await see(tab, "the wizard", page.locator("form", { has: page.getByRole("heading", { name: "New network" }) }));
  const refused = async (what: string, re: RegExp) => {
    await f.getByRole("button", { name: "Create" }).click();
    assert.match(await f.getByRole("alert").innerText(), re, what);
  };
  await f.getByLabel("Name", { exact: true }).fill("a-name-longer-than-15");
  await refused("a name too long for a bridge", /Name: 1 to 15 letters/);
  await f.getByLabel("Name", { exact: true }).fill("pvm-net");
  await f.getByLabel("VLAN id").fill("5000");
  await refused("a VLAN id out of range", /VLAN id: a whole number from 0 to 4094/);
  await f.getByLabel("VLAN id").fill("42");
  await f.getByLabel("MTU").fill("40");
  await refused("an MTU below 68", /MTU: 68 to 9000/);
  await f.getByLabel("MTU").fill("1400");
  await f.getByLabel("vNIC profile").fill("bad profile!");
  await refused("a bad profile name", /vNIC profile: 1 to 50 letters/);
  await f.getByLabel("vNIC profile").fill("pvm-net-guests");
  await f.getByLabel("Description").fill("guests of the wizard");
  await f.getByLabel("Attach to Default").check();
  await f.getByLabel("Required (a host").uncheck(); // a required network the host lacks would make it non-operational
  assert.equal(items(await eng.get("/networks?search=name%3Dpvm-net"), "network").length, 0, "nothing was sent yet");
  await shot(tab, "new-network");
  await f.getByRole("button", { name: "Create" }).click();
  await f.waitFor({ state: "detached", timeout: 30_000 }).catch(async () => {
    throw new Error(`the wizard stayed open: ${await f.innerText()}`);
  });
  const row = page.locator("tbody tr", { has: page.locator(".name", { hasText: /^pvm-net$/ }) });
  await see(tab, "pvm-net in the list", row);
  await see(tab, "both profiles listed", row.locator(".profiles", { hasText: "pvm-net, pvm-net-guests" }));
  assert.match(await row.innerText(), /42\s+1400\s+vm/, await row.innerText());
  const net = items<{ id: string; name: string; vlan?: { id: string }; mtu: string; description?: string; usages?: { usage?: string[] } }>(await eng.get("/networks"), "network").find((n) => n.name === "pvm-net");
  assert.ok(net, "pvm-net exists");
  assert.deepEqual([net.vlan?.id, net.mtu, net.description, net.usages?.usage], ["42", "1400", "guests of the wizard", ["vm"]]);
  const cluster = (await firstClusterId(eng)) as string;
  const onCluster = await eng.get<{ required: string }>(`/clusters/${cluster}/networks/${net.id}`);
  assert.equal(String(onCluster.required), "false", "attached, not required");
  assert.deepEqual(items<{ name: string }>(await eng.get(`/networks/${net.id}/vnicprofiles`), "vnic_profile").map((x) => x.name), ["pvm-net", "pvm-net-guests"]);

  // its profiles: one added (a bad name refused in the page, a taken one by the engine), then removed
  await row.getByRole("button", { name: "Profiles of pvm-net" }).click();
  const panel = await see(tab, "the profiles panel", page.locator("section.panel", { has: page.getByRole("heading", { name: "vNIC profiles of pvm-net" }) }));
  await panel.getByLabel("New profile").fill("no spaces allowed");
  await panel.getByRole("button", { name: "Add profile" }).click();
  assert.match(await panel.getByRole("alert").innerText(), /Profile name: 1 to 50 letters/);
  await panel.getByLabel("New profile").fill("pvm-net-guests");
  await panel.getByRole("button", { name: "Add profile" }).click();
  await see(tab, "the engine's refusal of a taken name", panel.getByRole("alert").filter({ hasText: "already used by a profile of network pvm-net" }));
  await panel.getByLabel("New profile").fill("pvm-net-extra");
  await panel.getByRole("button", { name: "Add profile" }).click();
  await see(tab, "the new profile", panel.locator("tbody tr", { hasText: "pvm-net-extra" }));
  await see(tab, "listed in the network's row", row.locator(".profiles", { hasText: "pvm-net-extra" }));
  await panel.getByRole("button", { name: "Remove profile pvm-net-extra" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
  await panel.locator("tbody tr", { hasText: "pvm-net-extra" }).waitFor({ state: "detached", timeout: 15_000 });
  assert.deepEqual(items<{ name: string }>(await eng.get(`/networks/${net.id}/vnicprofiles`), "vnic_profile").map((x) => x.name), ["pvm-net", "pvm-net-guests"]);
  await panel.getByRole("button", { name: "Close profiles" }).click();

  // its clusters: detaching is confirmed first; the engine refuses while a VM's NIC uses it, and for ovirtmgmt
  await row.getByRole("button", { name: "Clusters of pvm-net" }).click();
  const cl = await see(tab, "the clusters panel", page.locator("section.panel", { has: page.getByRole("heading", { name: "Clusters of pvm-net" }) }));
  const defaultRow = cl.locator("tbody tr", { has: page.locator(".name", { hasText: /^Default$/ }) });
  await see(tab, "attached to Default", defaultRow.getByText(/^yes$/));
  const guests = items<{ id: string; name: string }>(await eng.get(`/networks/${net.id}/vnicprofiles`), "vnic_profile").find((x) => x.name === "pvm-net-guests");
  const nic = await eng.post<{ id: string }>(`/vms/${vmId}/nics`, { name: "nic-pvmnet", vnic_profile: { id: guests?.id } });
  await defaultRow.getByRole("button", { name: "Detach pvm-net from Default" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
  assert.equal((await eng.api("GET", `/clusters/${cluster}/networks/${net.id}`)).status, 200, "cancelled: still attached");
  await defaultRow.getByRole("button", { name: "Detach pvm-net from Default" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Detach" }).click();
  await see(tab, "the engine's refusal: in use", cl.getByRole("alert").filter({ hasText: "Cannot detach Network pvm-net: NICs of VMs in the cluster use it (pvm)." }));
  assert.equal((await eng.api("GET", `/clusters/${cluster}/networks/${net.id}`)).status, 200, "refused: still attached");
  assert.equal((await eng.api("DELETE", `/vms/${vmId}/nics/${nic.id}`)).status, 200, "the NIC removed");
  await defaultRow.getByRole("button", { name: "Detach pvm-net from Default" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Detach" }).click();
  await see(tab, "detached from Default", defaultRow.getByText(/^no$/));
  assert.equal(await cl.getByRole("alert").count(), 0, "no error left shown");
  assert.equal((await eng.api("GET", `/clusters/${cluster}/networks/${net.id}`)).status, 404, "detached in the engine");
  await shot(tab, "network-clusters");
  await defaultRow.getByRole("button", { name: "Attach pvm-net to Default" }).click();
  await see(tab, "attached again", defaultRow.getByText(/^yes$/));
  await cl.getByRole("button", { name: "Close clusters" }).click();
  const mgmt = page.locator("tbody tr", { has: page.locator(".name", { hasText: /^ovirtmgmt$/ }) });
  await mgmt.getByRole("button", { name: "Clusters of ovirtmgmt" }).click();
  const cm = await see(tab, "ovirtmgmt's clusters", page.locator("section.panel", { has: page.getByRole("heading", { name: "Clusters of ovirtmgmt" }) }));
  await cm.getByRole("button", { name: "Detach ovirtmgmt from Default" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Detach" }).click();
  await see(tab, "the engine's refusal: management", cm.getByRole("alert").filter({ hasText: "it is the cluster's management network" }));
  await see(tab, "ovirtmgmt still attached", cm.locator("tbody tr", { hasText: "Default" }).getByText(/^yes/));
  await cm.getByRole("button", { name: "Close clusters" }).click();

  // the same name again: the page lets it through, the engine refuses it, and its words are shown
  await page.getByRole("button", { name: "New network" }).click();
  const g = await see(tab, "the wizard again", page.locator("form", { has: page.getByRole("heading", { name: "New network" }) }));
  await g.getByLabel("Name", { exact: true }).fill("pvm-net");
  await g.getByRole("button", { name: "Create" }).click();
  await see(tab, "the engine's fault", g.getByRole("alert").filter({ hasText: "The name pvm-net is already used by another network in the data center." }));
  assert.equal(items<{ name: string }>(await eng.get("/networks"), "network").filter((n) => n.name === "pvm-net").length, 1, "still one pvm-net");
  await g.getByRole("button", { name: "Cancel" }).click();

  // removing ovirtmgmt is refused by the engine, removing pvm-net works
  await page.locator("tbody tr", { has: page.locator(".name", { hasText: /^ovirtmgmt$/ }) }).getByRole("button", { name: "Remove ovirtmgmt" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
  await see(tab, "the engine refuses", page.getByRole("alert").filter({ hasText: "ovirtmgmt is the management network" }));
  await row.getByRole("button", { name: "Remove pvm-net" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
  await row.waitFor({ state: "detached", timeout: 15_000 });
  assert.equal(items<{ name: string }>(await eng.get("/networks"), "network").filter((n) => n.name === "pvm-net").length, 0, "pvm-net is gone");
  assert.equal(items<{ name: string }>(await eng.get("/vnicprofiles"), "vnic_profile").filter((x) => x.name.startsWith("pvm-net")).length, 0, "its profiles too");
});

// ---- GET /metrics (Prometheus) ----

interface Stat {
  name: string;
  values: { value: { datum: string }[] };
}

/** A statistics collection as name → value. */
async function statMap(path: string): Promise<Record<string, number>> {
  return Object.fromEntries(items<Stat>(await eng.get(path), "statistic").map((s) => [s.name, Number(s.values.value[0]?.datum)]));
}

async function scrape(auth?: string | null): Promise<{ status: number; type: string; text: string; json?: Record<string, unknown> }> {
  const r = await eng.api("GET", "/metrics", auth === undefined ? {} : { auth });
  return { status: r.status, type: r.headers.get("content-type") ?? "", text: r.text, json: r.json };
}

/** Renames a VM in the engine's database: the API refuses control characters in names, older rows or other tools may not. */
async function renameInDb(id: string, name: string): Promise<void> {
  if (testDb() === "sqlite") {
    const d = new Database(join(eng.home, "engine.db"));
    try {
      d.prepare("UPDATE vms SET name = ? WHERE id = ?").run(name, id);
    } finally {
      d.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: await databaseFor(eng.home) });
  await c.connect();
  try {
    await c.query("UPDATE vms SET name = $1 WHERE id = $2", [name, id]);
  } finally {
    await c.end();
  }
}

test("GET /metrics: Prometheus text that agrees with the statistics API; names escaped; 401 without credentials, 403 for a user role", async () => {
  // who may read it: nobody without credentials, not a user with a user role on a VM (in either view), the admin by Basic or token
  const none = await scrape(null);
  assert.equal(none.status, 401, none.text);
  assert.ok(none.json?.reason && none.json?.detail, `the fault shape: ${none.text}`);
  const ulla = await eng.post<{ id: string }>("/users", { user_name: "ulla@internal", password: "Ulla-Secret-77" });
  const grant = await eng.api("POST", `/vms/${vmId}/permissions`, { body: { role: { name: "UserRole" }, user: { id: ulla.id } } });
  assert.equal(grant.status, 201, grant.text);
  const ullaAuth = `Basic ${Buffer.from("ulla@internal:Ulla-Secret-77").toString("base64")}`;
  assert.equal((await eng.api("GET", `/vms/${vmId}`, { auth: ullaAuth })).status, 403, "the admin view is refused to her anyway");
  const denied = await scrape(ullaAuth);
  assert.equal(denied.status, 403, denied.text);
  assert.match(String(denied.json?.detail), /administrative role on the whole system/, denied.text);
  const filtered = await fetch(`${eng.url}/ovirt-engine/api/metrics`, { headers: { authorization: ullaAuth, filter: "true", accept: "application/xml" } });
  assert.equal(filtered.status, 403, "the user view is no way round");
  assert.match(await filtered.text(), /<fault><reason>Operation Failed<\/reason><detail>\[User is not authorized/, "an oVirt fault in XML");
  const tok = await fetch(`${eng.url}/ovirt-engine/sso/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: eng.user, password: eng.password }).toString(),
  });
  const token = ((await tok.json()) as { access_token: string }).access_token;
  const byToken = await scrape(`Bearer ${token}`);
  assert.equal(byToken.status, 200, byToken.text);
  assert.match(byToken.type, /^text\/plain; version=0\.0\.4/);

  // a running VM with a disk and a NIC, and a stopped VM whose name needs escaping
  const odd = await eng.post<{ id: string }>("/vms", { name: 'odd "quoted" vm', cluster: { name: "Default" }, memory: 64 * 2 ** 20 });
  const oddName = 'odd "quoted" \\ vm\nsecond line';
  await renameInDb(odd.id, oddName);
  const start = await eng.api("POST", `/vms/${vmId}/start`, { body: {} });
  assert.equal(start.status, 200, start.text);
  await until("pvm up", async () => ((await eng.get<{ status: string }>(`/vms/${vmId}`)).status === "up" ? true : undefined), 60_000, 200);
  const host = (await hostUp(eng)).id;
  const disk = items<{ id: string }>(await eng.get(`/vms/${vmId}/diskattachments`), "disk_attachment")[0]?.id as string;
  const nic = items<{ id: string }>(await eng.get(`/vms/${vmId}/nics`), "nic")[0]?.id as string;
  // the disk's counters come with the VM's second sample (a latency needs two)
  await until("the disk's counters in /statistics", async () => ((await statMap(`/disks/${disk}/statistics`))["disk.read.operations"] ?? 0) > 0 || undefined, 60_000, 300);

  // the API's figures and the scrape's, taken between two readings of the API that agree (no poll in between)
  const vmL = { vm_id: vmId, vm_name: "pvm" };
  const pairs: [string, string, Record<string, string>, string, number][] = [
    [`/hosts/${host}/statistics`, "memory.total", { host_id: host }, "vela_host_memory_total_bytes", 1],
    [`/hosts/${host}/statistics`, "memory.used", { host_id: host }, "vela_host_memory_used_bytes", 1],
    [`/hosts/${host}/statistics`, "cpu.current.user", { host_id: host, mode: "user" }, "vela_host_cpu_usage_ratio", 0.01],
    [`/hosts/${host}/statistics`, "cpu.current.idle", { host_id: host, mode: "idle" }, "vela_host_cpu_usage_ratio", 0.01],
    [`/vms/${vmId}/statistics`, "memory.installed", vmL, "vela_vm_memory_installed_bytes", 1],
    [`/vms/${vmId}/statistics`, "memory.used", vmL, "vela_vm_memory_used_bytes", 1],
    [`/vms/${vmId}/statistics`, "cpu.current.total", vmL, "vela_vm_cpu_usage_ratio", 0.01],
    [`/vms/${vmId}/statistics`, "memory.balloon.current", vmL, "vela_vm_balloon_current_bytes", 1],
    [`/vms/${vmId}/nics/${nic}/statistics`, "data.total.rx", { ...vmL, nic_id: nic, nic_name: "nic1" }, "vela_vm_nic_receive_bytes_total", 1],
    [`/vms/${vmId}/nics/${nic}/statistics`, "data.total.tx", { ...vmL, nic_id: nic }, "vela_vm_nic_transmit_bytes_total", 1],
    [`/vms/${vmId}/nics/${nic}/statistics`, "errors.total.rx", { ...vmL, nic_id: nic }, "vela_vm_nic_receive_errors_total", 1],
    [`/disks/${disk}/statistics`, "data.total.read", { ...vmL, disk_id: disk, disk_name: "pvm_disk1" }, "vela_vm_disk_read_bytes_total", 1],
    [`/disks/${disk}/statistics`, "disk.read.operations", { disk_id: disk }, "vela_vm_disk_reads_completed_total", 1],
    [`/disks/${disk}/statistics`, "disk.write.operations", { disk_id: disk }, "vela_vm_disk_writes_completed_total", 1],
    [`/disks/${disk}/statistics`, "disk.read.latency", { disk_id: disk }, "vela_vm_disk_read_latency_seconds", 1],
  ];
  const paths = [...new Set(pairs.map((p) => p[0]))];
  // only the compared figures: others (a host's boot.time) move with the clock, not with the samples
  const readApi = async () => {
    const maps = Object.fromEntries(await Promise.all(paths.map(async (p) => [p, await statMap(p)] as const)));
    return Object.fromEntries(paths.map((p) => [p, Object.fromEntries(pairs.filter((x) => x[0] === p).map((x) => [x[1], maps[p]?.[x[1]]]))]));
  };
  let fams = new Map<string, PromFamily>();
  let text = "";
  const api = await until("a scrape between two equal readings of the API", async () => {
    const before = await readApi();
    const s = await scrape();
    const after = await readApi();
    if (JSON.stringify(before) !== JSON.stringify(after)) return undefined;
    assert.equal(s.status, 200, s.text);
    text = s.text;
    fams = parsePrometheus(s.text);
    return after;
  }, 30_000, 50);
  for (const [path, stat, labels, metric, scale] of pairs) {
    const want = (api[path]?.[stat] as number) * scale;
    const got = sampleOf(fams, metric, labels);
    assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${metric}${JSON.stringify(labels)} = ${got}, ${path} ${stat} = ${want}`);
  }
  assert.ok(sampleOf(fams, "vela_vm_disk_read_bytes_total", { disk_id: disk }) > 0, "the disk was read (it booted)");
  assert.ok(sampleOf(fams, "vela_vm_disk_read_time_seconds_total", { disk_id: disk }) > 0, "QEMU's read time reaches the engine (the node reports readTimeNs)");
  for (const dropped of ["vela_vm_nic_receive_drops_total", "vela_vm_nic_transmit_drops_total"]) {
    assert.ok(sampleOf(fams, dropped, { nic_id: nic }) >= 0, `${dropped} of the NIC`);
    assert.equal(fams.get(dropped)?.type, "counter");
  }
  assert.equal(fams.get("vela_vm_disk_read_bytes_total")?.type, "counter");
  assert.equal(fams.get("vela_vm_cpu_usage_ratio")?.type, "gauge");
  // status, SPM role and counts
  assert.equal(sampleOf(fams, "vela_host_up", { host_id: host, host_name: "pvm-host" }), 1);
  assert.equal(sampleOf(fams, "vela_host_spm_role", { host_id: host, role: "spm" }), 1, "the only host is the SPM");
  assert.equal(sampleOf(fams, "vela_vm_status", { ...vmL, status: "up" }), 1);
  const vms = items<{ status: string }>(await eng.get("/vms"), "vm");
  for (const st of new Set(vms.map((v) => v.status))) assert.equal(sampleOf(fams, "vela_vms", { status: st }), vms.filter((v) => v.status === st).length, `VMs ${st}`);
  assert.equal(sampleOf(fams, "vela_hosts", { status: "up" }), 1);
  // storage domains: their representation's figures
  for (const sd of items<{ id: string; name: string; available?: string; used?: string; committed: string }>(await eng.get("/storagedomains"), "storage_domain")) {
    const l = { storage_domain_id: sd.id, storage_domain_name: sd.name };
    assert.equal(sampleOf(fams, "vela_storage_domain_committed_bytes", l), Number(sd.committed), `${sd.name} committed`);
    if (sd.available !== undefined) assert.equal(sampleOf(fams, "vela_storage_domain_available_bytes", l), Number(sd.available), `${sd.name} available`);
    if (sd.used !== undefined) assert.equal(sampleOf(fams, "vela_storage_domain_used_bytes", l), Number(sd.used), `${sd.name} used`);
  }
  // the engine's own process
  assert.ok(sampleOf(fams, "process_resident_memory_bytes", {}) > 0, "the engine's process metrics");
  assert.ok(fams.has("nodejs_eventloop_lag_seconds"));
  // the odd name comes back whole, written with its escapes
  assert.equal(sampleOf(fams, "vela_vm_status", { vm_id: odd.id, vm_name: oddName, status: "down" }), 1);
  assert.ok(text.includes('vm_name="odd \\"quoted\\" \\\\ vm\\nsecond line"'), "quotes, backslash and newline escaped");

  await eng.api("DELETE", `/vms/${odd.id}`);
  const stop = await eng.api("POST", `/vms/${vmId}/stop`, { body: {} });
  assert.equal(stop.status, 200, stop.text);
});
