/**
 * The portal's Upload page in a real browser (Debian's Chromium driven by playwright-core): the
 * administrator picks a small qcow2 file and a storage domain, the progress bar reaches 100 %, and
 * the new disk holds the image (qemu-img compare against the file); a file that claims to be
 * qcow2 but is not is refused with the engine's fault text and leaves no disk behind. Real engine,
 * node and storage domain; the bytes go through the engine's image proxy.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { addLocalDomain, type Engine, firstDcId, hostUp, items, type Node, startEngine, startNode, tempDir, until } from "./support.js";

const CHROMIUM = "/usr/bin/chromium";
const MiB = 2 ** 20;
let eng: Engine;
let node: Node;
let browser: Browser | undefined;
let page: Page;
const dir = tempDir("vela-pup-sd-");
const files = tempDir("vela-pup-files-");
let sd = "";
const said: string[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), "Debian's chromium package is needed (./vela installs it)");
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: "pup" } });
  node = await startNode({ engineUrl: eng.url, token: "pup", name: "pup-host" });
  const h = await hostUp(eng);
  sd = await addLocalDomain(eng, await firstDcId(eng), h.id, "upload-sd", dir);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: true });
  page = await ctx.newPage();
  page.on("console", (m) => said.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => said.push(`error: ${String(e)}`));
});

after(async () => {
  await browser?.close();
  await node?.stop();
  await eng?.stop();
});

async function see(what: string, loc: Locator, timeout = 60_000): Promise<Locator> {
  try {
    await loc.first().waitFor({ state: "visible", timeout });
    return loc.first();
  } catch (err) {
    const text = await page.locator("body").innerText().catch(() => "(no page)");
    throw new Error(`${what}: not seen (${(err as Error).message.split("\n")[0]})\npage shows:\n${text.slice(0, 1500)}\npage said:\n${said.slice(-15).join("\n")}`);
  }
}

interface Disk {
  id: string;
  alias: string;
  image_id: string;
  status: string;
  format: string;
}

async function disks(): Promise<Disk[]> {
  return items<Disk>((await eng.api("GET", "/disks")).json, "disk");
}

test("portal upload: a small qcow2 from the browser becomes a usable disk, the progress bar reaching 100 %", async () => {
  await page.goto(`${eng.url}/`);
  await page.getByLabel("User name").fill(eng.user);
  await page.getByLabel("Password").fill(eng.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await see("the navigation", page.getByRole("link", { name: "Upload" }));
  await page.getByRole("link", { name: "Upload" }).click();
  await see("the upload form", page.getByRole("heading", { name: "Upload a disk image" }));

  const file = join(files, "browser-disk.qcow2");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", file, String(12 * MiB)]);
  execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x42 0 2M", "-c", "write -P 0x17 10M 1M", file], { stdio: "pipe" });
  await page.getByLabel("Image file (qcow2, raw or ISO)").setInputFiles(file);
  assert.equal(await page.getByLabel("Disk name").inputValue(), "browser-disk", "the name comes from the file");
  // Options are never "visible" to playwright: wait for the list to hold the domain.
  await until("the storage domain offered", async () => ((await page.getByLabel("Storage domain").locator("option", { hasText: "upload-sd" }).count()) > 0 ? true : undefined));
  await page.getByRole("button", { name: "Upload" }).click();
  await see("the upload's end", page.getByRole("status").filter({ hasText: "is ready" }));
  assert.equal(await page.getByLabel("Upload progress").getAttribute("value"), "100");

  const disk = (await disks()).find((d) => d.alias === "browser-disk");
  assert.ok(disk, "the new disk is listed");
  assert.equal(disk.status, "ok");
  assert.equal(disk.format, "cow");
  execFileSync("qemu-img", ["compare", "-f", "qcow2", "-F", "qcow2", file, join(dir, sd, "images", disk.id, disk.image_id)]);
});

test("portal upload: a file that is not the image it claims is refused with the engine's reason; no disk is left", async () => {
  const file = join(files, "broken.qcow2");
  // qcow2's magic, then garbage: the page takes it for qcow2, qemu-img does not.
  writeFileSync(file, Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]), Buffer.alloc(16), Buffer.from([0, 0, 0, 0, 0, 0x40, 0, 0]), randomBytes(MiB)]));
  const before = (await disks()).length;
  await page.getByLabel("Image file (qcow2, raw or ISO)").setInputFiles(file);
  await page.getByLabel("Disk name").fill("broken");
  await page.getByRole("button", { name: "Upload" }).click();
  const alert = await see("the refusal", page.getByRole("alert"));
  assert.match(await alert.innerText(), /not a valid qcow2 image/);
  await until("the refused upload's disk removed", async () => ((await disks()).length === before ? true : undefined));
});
