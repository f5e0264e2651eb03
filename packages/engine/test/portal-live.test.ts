/**
 * The portal's live updates and its user view in a real browser (Chromium via playwright-core),
 * on a real engine process without hosts: an event another client causes through the API appears
 * in the open Events page and VM list within 2 s without reloading (the page hears the engine's
 * event stream; nothing polls); a user with UserRole on one VM, added through the API, signs in,
 * sees that VM only (and hears its changes live), and the administration pages and API are refused.
 * The VM list with 3,000 VMs is virtualised: a window of rows in the page, the last reached by
 * scrolling and by the keyboard; on a reload its first screenful is asked for with the admin check.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import type { Browser } from "playwright-core";
import { launch, newTab, open, see, shot, signIn, type Tab } from "./browser.js";
import { type Engine, startEngine } from "./support.js";

const BLANK_TEMPLATE = "00000000-0000-0000-0000-000000000000";

let eng: Engine;
let browser: Browser | undefined;
let cluster = "";
let mine = "";
const USER = "ulla@internal";
const PASSWORD = "Ulla-Secret-99";
/** API requests each page made, by path, to tell a subscribing page from a polling one. */
const apiCalls = new Map<Tab, string[]>();

async function tabFor(user: string, password: string): Promise<Tab> {
  if (!browser) throw new Error("no browser");
  const tab = await newTab(browser);
  const calls: string[] = [];
  apiCalls.set(tab, calls);
  tab.page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith("/ovirt-engine/api")) calls.push(u.pathname + u.search);
  });
  await open(tab, `${eng.url}/`);
  await signIn(tab, user, password);
  return tab;
}

before(async () => {
  eng = await startEngine();
  cluster = ((await eng.get<{ cluster: { id: string }[] }>("/clusters")).cluster[0] as { id: string }).id;
  const vm = async (name: string) => (await eng.post<{ id: string }>("/vms", { name, cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 })).id;
  mine = await vm("ulla-vm");
  await vm("not-ullas");
  await eng.post("/users", { user_name: USER, password: PASSWORD });
  const ulla = (await eng.get<{ user: { id: string; principal: string }[] }>("/users")).user.find((u) => u.principal === "ulla");
  assert.ok(ulla, "the user was added");
  await eng.post(`/vms/${mine}/permissions`, { role: { name: "UserRole" }, user: { id: ulla.id } });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await eng?.stop();
});

test("portal live: an event caused by another client through the API appears in the open page within 2 s", async () => {
  const tab = await tabFor(eng.user, eng.password);
  const { page } = tab;
  await see(tab, "the VM list", page.getByRole("heading", { name: "Virtual machines", exact: true }));
  await page.getByRole("link", { name: "Events" }).click();
  await see(tab, "the events", page.locator("tbody tr", { hasText: "ulla-vm" }));
  const calls = apiCalls.get(tab) as string[];
  const before = calls.length;

  const t0 = Date.now();
  const made = await eng.api("POST", "/vms", { body: { name: "live-vm", cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 } });
  assert.equal(made.status, 201, made.text);
  await see(tab, "the new VM's event", page.locator("tbody tr", { hasText: "live-vm" }), 5_000);
  const took = Date.now() - t0;
  assert.ok(took <= 2000, `the event appeared after ${took} ms (more than 2 s)`);
  await shot(tab, "events-live");
  // The page loaded the events again because it heard the event: one reload (or two), not a poll.
  const reloads = calls.slice(before);
  assert.ok(reloads.length >= 1 && reloads.length <= 3, `requests after the event: ${JSON.stringify(reloads)}`);

  // The VM list too: a VM removed by another client leaves the open page.
  await page.getByRole("link", { name: "Virtual machines" }).click();
  const row = page.locator("tbody tr", { has: page.locator(".name", { hasText: /^live-vm$/ }) });
  await see(tab, "live-vm in the list", row);
  const t1 = Date.now();
  const gone = await eng.api("DELETE", `/vms/${(made.json as { id: string }).id}`);
  assert.equal(gone.status, 200, gone.text);
  await row.waitFor({ state: "detached", timeout: 5_000 });
  assert.ok(Date.now() - t1 <= 2000, `the removed VM left the list after ${Date.now() - t1} ms`);
  await tab.close();
});

test("portal user: UserRole on one VM shows that VM only, live; the administration pages and API are refused", async () => {
  const tab = await tabFor(USER, PASSWORD);
  const { page } = tab;
  await see(tab, "the VM portal", page.getByRole("heading", { name: "My virtual machines" }));
  const card = await see(tab, "the user's VM", page.getByRole("listitem", { name: "ulla-vm" }));
  assert.equal(await page.locator(".card").count(), 1, `one VM only: ${await page.locator(".cards").innerText()}`);
  assert.equal(await page.getByRole("link", { name: "Hosts" }).count(), 0, "no administration links");
  assert.equal(await page.getByRole("link", { name: "Virtual machines" }).count(), 0, "no administration VM list");

  // A change to the user's VM by the administrator arrives live.
  const t0 = Date.now();
  const upd = await eng.api("PUT", `/vms/${mine}`, { body: { description: "given to ulla" } });
  assert.equal(upd.status, 200, upd.text);
  await see(tab, "the new description", card.getByText("given to ulla"), 5_000);
  assert.ok(Date.now() - t0 <= 2000, `the change appeared after ${Date.now() - t0} ms`);
  await shot(tab, "vm-portal-user");

  for (const route of ["hosts", "vms", "storage", "events", "jobs"]) {
    await page.evaluate(`location.hash = "#/${route}"`);
    await see(tab, `#/${route} refused`, page.getByRole("alert").filter({ hasText: "This page is for administrators." }));
    assert.equal(await page.locator("tbody tr").count(), 0, `#/${route} shows no data`);
  }
  await shot(tab, "admin-refused");
  // The engine refuses too, whatever the page does: the admin view of hosts with the user's token.
  const token = (await page.evaluate("sessionStorage.getItem('vela.token')")) as string;
  const hosts = await eng.api("GET", "/hosts", { auth: `Bearer ${token}` });
  assert.equal(hosts.status, 403, hosts.text);
  const vms = await eng.api("GET", "/vms", { auth: `Bearer ${token}` });
  assert.equal(vms.status, 403, `the administrator view of VMs: ${vms.text}`);
  await page.getByRole("link", { name: "Go to your virtual machines" }).click();
  await see(tab, "the VM portal again", page.getByRole("listitem", { name: "ulla-vm" }));
  await tab.close();
});

test("portal VM list with thousands of VMs: only a window of rows is in the page; scrolling and the keyboard reach the last VM; a reload asks for the first screenful with the admin check", async () => {
  // inserted straight into the engine's database (as if made over time): the list's generation
  // trigger tells the engine at once
  const N = 3000;
  const at = new Date().toISOString();
  const d = new Database(join(eng.home, "engine.db"));
  try {
    const stmt = d.prepare(
      "INSERT INTO vms (id, name, cluster_id, template_id, memory, cpu_sockets, cpu_cores, cpu_threads, os_type, boot_devices, display_type, status, created_at) VALUES (?, ?, ?, ?, ?, 1, 1, 1, 'other_linux', '[\"hd\"]', 'vnc', 'down', ?)",
    );
    d.transaction(() => {
      for (let i = 0; i < N; i++) stmt.run(randomUUID(), `zz-many-${String(i).padStart(5, "0")}`, cluster, BLANK_TEMPLATE, 2 ** 30, at);
    })();
  } finally {
    d.close();
  }
  const total = ((await eng.get<{ vm: unknown[] }>("/vms")).vm ?? []).length;
  assert.ok(total >= N, `the engine lists ${total} VMs`);
  const lastName = `zz-many-${String(N - 1).padStart(5, "0")}`;
  const tab = await tabFor(eng.user, eng.password);
  const { page } = tab;
  const rowNamed = (name: string) => page.locator("tbody tr", { has: page.locator(".name", { hasText: new RegExp(`^${name}$`) }) });
  await see(tab, "the first VMs", rowNamed("zz-many-00000"));
  const box = page.getByRole("region", { name: /Virtual machines: \d+ rows/ });
  await see(tab, "the whole list", page.getByRole("region", { name: `Virtual machines: ${total} rows, scroll to see more` }), 30_000);
  assert.equal(await page.locator("table").getAttribute("aria-rowcount"), String(total + 1), "screen readers hear the whole size");
  const drawn = async () => page.locator("tbody tr[data-id]").count();
  const n0 = await drawn();
  assert.ok(n0 > 5 && n0 < 150, `${n0} rows in the page for ${total} VMs: only a window should be`);
  assert.equal(await rowNamed(lastName).count(), 0, "the last VM is not drawn before scrolling");
  // the mouse wheel's way: scroll the box to the bottom
  await box.evaluate((el) => {
    el.scrollTop = el.scrollHeight;
  });
  await see(tab, "the last VM after scrolling", rowNamed(lastName));
  const n1 = await drawn();
  assert.ok(n1 < 150, `${n1} rows in the page at the bottom`);
  const index = await rowNamed(lastName).getAttribute("aria-rowindex");
  assert.equal(index, String(total + 1), "the last row says where it is");
  // the keyboard's way: the box takes focus; Home goes back up, End down again
  await box.focus();
  await page.keyboard.press("Home");
  await see(tab, "the first VMs after Home", rowNamed("zz-many-00000"));
  await page.keyboard.press("End");
  await see(tab, "the last VM after End", rowNamed(lastName));
  // a reload: the first screenful's request leaves with the admin check, not after its answer
  await page.reload();
  await see(tab, "the first VMs after a reload", rowNamed("zz-many-00000"));
  const timing = await page.evaluate(() => {
    const all = performance.getEntriesByType("resource") as unknown as { name: string; startTime: number; responseEnd: number }[];
    const of = (path: string) => all.find((e) => new URL(e.name).pathname + new URL(e.name).search === `/ovirt-engine/api${path}`);
    return { check: of("/hosts?max=1"), first: of("/vms?max=60") };
  });
  assert.ok(timing.check && timing.first, `both requests made: ${JSON.stringify(timing)}`);
  assert.ok(timing.first.startTime < timing.check.responseEnd, `the first screenful asked for before the admin check's answer: ${JSON.stringify(timing)}`);
  await see(tab, "the whole list after the reload", page.getByRole("region", { name: `Virtual machines: ${total} rows, scroll to see more` }), 30_000);
  await tab.close();
});
