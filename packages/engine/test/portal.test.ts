/**
 * The web portal in a real browser: Debian's Chromium (headless, driven by playwright-core) loads
 * the portal the engine serves at `/`, a wrong password shows the SSO's refusal, the
 * administrator signs in, sees the VM list, runs a VM and watches it come up without reloading,
 * opens its console (noVNC through the proxy), powers it off after a confirmation, creates a VM
 * from a template with the form (bad input refused in the page and by the engine), reads the
 * other administration pages and the VM portal, and signs out; a token the engine revokes sends
 * the page back to sign-in, keeping a half-filled form for after; the serial console in the page
 * (xterm.js) shows the guest's shell. Every request the page makes stays on the engine. Real engine, node
 * and QEMU guest (TCG).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { type Engine, guestVmBody, hostUp, items, type Node, qemuOf, startEngine, startNode, until } from "./support.js";

const here = dirname(fileURLToPath(import.meta.url));
const GUEST_SCRIPT = resolve(here, "../../../../scripts/build-test-guest.sh");
const CHROMIUM = "/usr/bin/chromium";

let eng: Engine;
let node: Node;
let browser: Browser | undefined;
let ctx: BrowserContext;
let page: Page;
let vmId = "";
let serialVm = "";
/** Everything the page printed or failed on, for failure messages. */
const said: string[] = [];
/** URLs the page requested that are not the engine's. */
const foreign: string[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), "Debian's chromium package is needed (./vela installs it)");
  const dir = execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() as string;
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: "portal", VELA_ENGINE_VM_POLL_MS: "300", VELA_BOOT_DIRS: dir } });
  node = await startNode({ engineUrl: eng.url, token: "portal", name: "portal-host", env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: dir } });
  await hostUp(eng);
  const vm = await eng.post<{ id: string }>("/vms", guestVmBody("portal-vm", dir, "console=ttyS0"));
  vmId = vm.id;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  // Chromium keeps its own trust store: it accepts the run's test certificate (checked by the pki tests)
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: true });
  ctx.on("request", (r) => {
    const u = new URL(r.url());
    if (u.origin !== eng.url && !["about:", "data:", "blob:"].includes(u.protocol)) foreign.push(r.url());
  });
  ctx.on("page", (p) => {
    p.on("console", (m) => said.push(`${m.type()}: ${m.text()}`));
    p.on("pageerror", (e) => said.push(`error: ${String(e)}`));
  });
  page = await ctx.newPage();
});

after(async () => {
  await browser?.close();
  for (const pid of [...qemuOf(vmId), ...qemuOf(serialVm)]) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

/** Waits for `loc` to be visible; a failure tells what the page showed and said. */
async function see(what: string, loc: Locator, timeout = 15_000): Promise<Locator> {
  try {
    await loc.first().waitFor({ state: "visible", timeout });
    return loc.first();
  } catch (err) {
    const text = await loc.page().locator("body").innerText().catch(() => "(no page)");
    throw new Error(`${what}: not seen (${(err as Error).message.split("\n")[0]})\npage shows:\n${text.slice(0, 1500)}\npage said:\n${said.slice(-15).join("\n")}`);
  }
}

/** Opens `url`, again when another test's network changes abort the load (ERR_NETWORK_CHANGED). */
async function open(url: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await page.goto(url);
      return;
    } catch (err) {
      if (i >= 4 || !/ERR_NETWORK_CHANGED/.test(String(err))) throw err;
    }
  }
}

/**
 * With PORTAL_SCREENSHOTS=<dir> (how docs/screenshots/ is made), saves the page as <dir>/<name>.png;
 * otherwise nothing.
 */
async function shot(name: string): Promise<void> {
  const dir = process.env.PORTAL_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

function vmRow(name: string): Locator {
  return page.locator("tbody tr", { has: page.locator(".name", { hasText: new RegExp(`^${name}$`) }) });
}

async function signIn(user: string, password: string): Promise<void> {
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("portal: / leads to the sign-in page; its JavaScript is small, comes from the engine, and is named by its content so browsers keep it", async () => {
  const res = await fetch(`${eng.url}/`, { redirect: "manual" });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "/ovirt-engine/web/");
  const index = await fetch(`${eng.url}/ovirt-engine/web/`);
  assert.equal(index.headers.get("cache-control"), "no-cache", "the page is revalidated: it names the current build's files");
  const src = /<script type="module" src="([^"]+)"/.exec(await index.text())?.[1] ?? "";
  assert.match(src, /^\/ovirt-engine\/web\/main-[A-Z0-9]{8}\.js$/, "the script is named by its content");
  const script = await fetch(`${eng.url}${src}`);
  assert.equal(script.headers.get("cache-control"), "public, max-age=31536000, immutable", "kept by browsers: a reload does not fetch it again");
  const js = Buffer.from(await script.arrayBuffer());
  assert.ok(js.length > 1000, "the bundle is served");
  assert.ok(gzipSync(js).length < 300 * 1024, `JavaScript gzipped: ${gzipSync(js).length} bytes`);
  for (const bad of ["package.json", "..%2Fpackage.json", "src/main.tsx", "%2e%2e/%2e%2e/engine/package.json"]) {
    assert.equal((await fetch(`${eng.url}/ovirt-engine/web/${bad}`)).status, 404, `nothing but the built files: ${bad}`);
  }
  await open(`${eng.url}/`);
  await see("the sign-in form", page.getByRole("heading", { name: "Sign in" }));
});

test("portal: a wrong password shows the engine's refusal and keeps the user on sign-in", async () => {
  await signIn(eng.user, `${eng.password}-wrong`);
  const alert = await see("an error", page.getByRole("alert"));
  assert.match(await alert.innerText(), /wrong username or password/i);
  await shot("sign-in-refused");
  assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "", "the password field is cleared");
  await page.getByLabel("User name").fill("");
  await page.getByRole("button", { name: "Sign in" }).click();
  assert.match(await page.getByRole("alert").innerText(), /user name/i, "an empty user name is refused before sending");
});

test("portal: the administrator signs in, runs a VM and sees it come up, opens its console, powers it off", async () => {
  await signIn(eng.user, eng.password);
  await see("the VM list", page.getByRole("heading", { name: "Virtual machines", exact: true }));
  const row = vmRow("portal-vm");
  await see("portal-vm down", row.locator(".badge", { hasText: "down" }));
  await page.getByRole("button", { name: "Run portal-vm" }).click();
  await see("portal-vm up (live, without reloading)", row.locator(".badge", { hasText: /^up$/ }), 90_000);
  assert.equal((await eng.get<{ status: string }>(`/vms/${vmId}`)).status, "up");
  await shot("vms");

  // The console opens in a new window: the engine's noVNC page, connected through the proxy.
  const popup = ctx.waitForEvent("page");
  await page.getByRole("button", { name: "Console of portal-vm" }).click();
  const con = await popup;
  const title = await until("noVNC's verdict", async () => {
    const t = await con.title().catch(() => "");
    // Only noVNC's verdicts count (the page's own title and Chromium's "Loading …" come first).
    return /^(connected|disconnected|security failure)/.test(t) ? t : undefined;
  }, 60_000, 250).catch((e: Error) => {
    throw new Error(`${e.message}; console url ${con.url().split("#")[0]}; page said:\n${said.slice(-15).join("\n")}`);
  });
  assert.equal(title, "connected", "the console connects with the tickets the portal got");
  if (process.env.PORTAL_SCREENSHOTS) await con.screenshot({ path: join(process.env.PORTAL_SCREENSHOTS, "console.png") });
  await con.close();

  // The engine's refusal reaches the page in its own words: no maintenance with a VM running.
  await page.getByRole("link", { name: "Hosts" }).click();
  await page.getByRole("button", { name: "Maintenance" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Maintenance" }).click();
  await see("the engine's fault", page.getByRole("alert").filter({ hasText: "Cannot switch Host portal-host to Maintenance mode: VM portal-vm is running on it" }));
  await shot("fault");
  assert.equal((await hostUp(eng)).status, "up", "the host stayed up");
  await page.getByRole("link", { name: "Virtual machines" }).click();

  // Power off asks first; Cancel leaves the VM running.
  await page.getByRole("button", { name: "Power off portal-vm" }).click();
  const dialog = await see("the confirmation", page.getByRole("dialog"));
  await shot("confirm-power-off");
  assert.match(await dialog.innerText(), /Power off portal-vm\?/);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  assert.equal((await eng.get<{ status: string }>(`/vms/${vmId}`)).status, "up", "cancelled: still up");
  await page.getByRole("button", { name: "Power off portal-vm" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Power off" }).click();
  await see("portal-vm down again", row.locator(".badge", { hasText: /^down$/ }), 60_000);
});

test("portal: New VM from a template; bad names are refused in the page, a taken name by the engine", async () => {
  await page.getByRole("button", { name: "New VM" }).click();
  const form = page.locator("form", { has: page.getByRole("heading", { name: "New virtual machine" }) });
  await see("the New VM form", form);
  await form.getByLabel("Name", { exact: true }).fill("bad name!");
  await form.getByRole("button", { name: "Create" }).click();
  assert.match(await form.getByRole("alert").innerText(), /Name: 1 to 64/);
  await shot("new-vm");
  await form.getByLabel("Name", { exact: true }).fill("portal-vm");
  await form.getByRole("button", { name: "Create" }).click();
  await see("the engine's fault", form.getByRole("alert").filter({ hasText: /already in use/i }));
  await form.getByLabel("Memory (MiB)").fill("256");
  await form.getByLabel("Name", { exact: true }).fill("portal-new");
  await form.getByRole("button", { name: "Create" }).click();
  await see("portal-new in the list", vmRow("portal-new"));
  const made = items<{ name: string; memory: string; template?: { id: string } }>(await eng.get("/vms"), "vm").find((v) => v.name === "portal-new");
  assert.equal(made?.memory, String(256 * 2 ** 20), "the memory asked for");
  assert.ok(made?.template?.id, "made from a template");
});

test("portal: hosts, storage, disks, networks, jobs, events and the VM portal show the engine's data", async () => {
  await page.getByRole("link", { name: "Hosts" }).click();
  await see("the host, up", page.locator("tbody tr", { hasText: "portal-host" }).locator(".badge", { hasText: /^up$/ }));
  await shot("hosts");
  await page.getByRole("link", { name: "Data centers" }).click();
  const tree = await see("the data center tree", page.locator(".tree"));
  await see("Default → Default cluster → portal-host", tree.locator("li li li", { hasText: "portal-host" }));
  assert.match(await tree.innerText(), /Default[\s\S]*cluster — 1 host, 2 VMs/);
  await shot("datacenters");
  await page.getByRole("link", { name: "Templates" }).click();
  await see("the Blank template", page.locator("tbody tr", { hasText: "Blank" }));
  for (const [link, heading] of [
    ["Storage domains", "Storage domains"],
    ["Disks", "Disks"],
    ["Networks", "Networks"],
    ["Events", "Events"],
  ]) {
    await page.getByRole("link", { name: link, exact: true }).click();
    await see(heading, page.getByRole("heading", { name: heading, exact: true }));
    assert.equal(await page.getByRole("alert").count(), 0, `${heading}: no error`);
  }
  await page.getByRole("link", { name: "Jobs" }).click();
  await see("a finished job of the VM run", page.locator("tbody tr", { hasText: /portal-vm/i }).locator(".badge", { hasText: "finished" }));
  await shot("jobs");
  await page.getByRole("link", { name: "VM portal" }).click();
  const card = await see("portal-vm's card", page.getByRole("listitem", { name: "portal-vm" }));
  await see("its Run button", card.getByRole("button", { name: "Run portal-vm" }));
  await shot("vm-portal");
  // On a phone-sized screen the cards fit: nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await see("the card on a phone", page.getByRole("listitem", { name: "portal-vm" }));
  const overflow = (await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) as number;
  assert.ok(overflow <= 0, `the VM portal scrolls sideways by ${overflow} px on a phone`);
  await shot("vm-portal-phone");
  await page.setViewportSize({ width: 1280, height: 800 });
  assert.deepEqual(foreign, [], "every request stays on the engine");
});

test("portal: signing out revokes the token; a token the engine no longer accepts returns to sign-in, and the form survives", async () => {
  const token = (await page.evaluate("sessionStorage.getItem('vela.token')")) as string;
  assert.ok(token, "signed in with a token");
  await page.getByRole("button", { name: "Sign out" }).click();
  await see("the sign-in form", page.getByRole("heading", { name: "Sign in" }));
  const after = await eng.api("GET", "/vms", { auth: `Bearer ${token}` });
  assert.equal(after.status, 401, "the engine no longer takes the token");
  assert.match(after.headers.get("www-authenticate") ?? "", /^Bearer/, "a Bearer challenge, so the browser shows no password dialog");

  // Keyboard only: type, Tab to the password, Enter submits.
  await page.getByLabel("User name").focus();
  await page.keyboard.type(eng.user);
  await page.keyboard.press("Tab");
  await page.keyboard.type(eng.password);
  await page.keyboard.press("Enter");
  await see("the VM portal, where the user was", page.getByRole("heading", { name: "My virtual machines" }));
  await page.getByRole("link", { name: "Virtual machines" }).click();
  await see("the VM list", page.getByRole("heading", { name: "Virtual machines", exact: true }));
  // A half-filled form survives the session's end: signing in again carries on.
  await page.getByRole("button", { name: "New VM" }).click();
  await page.getByLabel("Name", { exact: true }).fill("kept-name");
  const second = (await page.evaluate("sessionStorage.getItem('vela.token')")) as string;
  await fetch(`${eng.url}/ovirt-engine/services/sso-logout?token=${encodeURIComponent(second)}`, { method: "POST" });
  await see("sign-in after the engine dropped the session", page.getByText("Your session has ended"));
  await shot("session-ended");
  await signIn(eng.user, eng.password);
  await see("the page again", page.getByRole("heading", { name: "New virtual machine" }));
  assert.equal(await page.getByLabel("Name", { exact: true }).inputValue(), "kept-name", "the form kept what was typed");
});

test("portal: the serial console in the page (xterm.js through the engine's proxy) shows the guest's prompt and its answers", async () => {
  const dir = execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() as string;
  const vm = await eng.post<{ id: string }>("/vms", guestVmBody("portal-serial", dir, "console=ttyS0 vela.shell"));
  serialVm = vm.id;
  await eng.post(`/vms/${vm.id}/start`, {});
  await page.getByRole("link", { name: "Virtual machines" }).click();
  const row = vmRow("portal-serial");
  await see("portal-serial up", row.locator(".badge", { hasText: /^up$/ }), 90_000);
  await row.getByRole("button", { name: "Serial terminal of portal-serial" }).click();
  const panel = await see("the serial console", page.locator("section.panel", { has: page.getByRole("heading", { name: "Serial console of portal-serial" }) }));
  await see("connected", panel.locator("[data-state=connected]"), 30_000);
  const rows = panel.locator(".xterm-rows");
  const text = async () => (await rows.innerText().catch(() => "")).replace(/\u00a0/g, " ");
  // The shell's prompt (busybox: "/ # ") comes on the fresh line the page sends when it connects.
  await until("the guest's prompt", async () => (/[#$] ?$/m.test(await text()) ? true : undefined), 90_000, 250).catch(async (e: Error) => {
    throw new Error(`${e.message}; terminal shows:\n${await text()}\npage said:\n${said.slice(-10).join("\n")}`);
  });
  await panel.getByRole("region", { name: "Terminal of portal-serial" }).click();
  await page.keyboard.type("echo SERIAL-$((40+2))");
  await page.keyboard.press("Enter");
  await until("the shell's answer", async () => ((await text()).includes("SERIAL-42") ? true : undefined), 60_000, 250).catch(async (e: Error) => {
    throw new Error(`${e.message}; terminal shows:\n${await text()}`);
  });
  await shot("serial-console");
  await panel.getByRole("button", { name: "Close serial console" }).click();
  await eng.post(`/vms/${vm.id}/stop`, {});
});
