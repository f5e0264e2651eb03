/**
 * The console in a real browser: Debian's Chromium (headless, driven by playwright-core) opens the
 * engine's noVNC page with a proxy ticket and a VNC ticket in the URL fragment, noVNC connects
 * through the engine's WebSocket proxy, does VNC authentication itself and draws the guest's
 * screen; a used proxy ticket does not connect again, and a wrong VNC password fails security.
 * Real engine, node and QEMU guest (TCG).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { type Engine, guestVmBody, hostUp, type Node, qemuOf, startEngine, startNode, until } from "./support.js";

const here = dirname(fileURLToPath(import.meta.url));
const GUEST_SCRIPT = resolve(here, "../../../../scripts/build-test-guest.sh");
const CHROMIUM = "/usr/bin/chromium";
const VNC = "766e63";

let eng: Engine;
let node: Node;
let browser: Browser | undefined;
let vmId = "";

before(async () => {
  assert.ok(existsSync(CHROMIUM), "Debian's chromium package is needed (./vela installs it)");
  const dir = execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() as string;
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: "novnc", VELA_ENGINE_VM_POLL_MS: "300", VELA_BOOT_DIRS: dir } });
  node = await startNode({ engineUrl: eng.url, token: "novnc", name: "novnc-host", env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: dir } });
  await hostUp(eng);
  const vm = await eng.post<{ id: string }>("/vms", guestVmBody("novnc-vm", dir, "console=ttyS0"));
  vmId = vm.id;
  await eng.post(`/vms/${vmId}/start`, {});
  await until("VM up", async () => ((await eng.get<{ status: string }>(`/vms/${vmId}`)).status === "up" ? true : undefined), 60_000, 200);
  // Chromium keeps its own trust store (NODE_EXTRA_CA_CERTS does not reach it): it accepts the
  // run's test certificate as any other (the engine's certificate is checked by the pki tests).
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
});

after(async () => {
  await browser?.close();
  for (const pid of qemuOf(vmId)) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

async function tickets(): Promise<{ password: string; ticket: string }> {
  const gc = `/vms/${vmId}/graphicsconsoles/${VNC}`;
  const password = (await eng.post<{ ticket: { value: string } }>(`${gc}/ticket`, {})).ticket.value;
  const ticket = (await eng.post<{ proxy_ticket: { value: string } }>(`${gc}/proxyticket`, {})).proxy_ticket.value;
  return { password, ticket };
}

function pageUrl(t: { password: string; ticket: string }): string {
  const frag = new URLSearchParams({ vm: vmId, ticket: t.ticket, password: t.password });
  return `${eng.url}/ovirt-engine/services/novnc/console.html#${frag}`;
}

/** Opens the page and waits for noVNC's verdict in the title. */
async function openConsole(what: string, url: string): Promise<{ title: string; lit: number }> {
  const page = await (browser as Browser).newPage({ ignoreHTTPSErrors: true });
  const said: string[] = [];
  page.on("console", (m) => said.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => said.push(`error: ${String(e)}`));
  try {
    // Other tests on this box add and remove network interfaces; Chromium then aborts loads with
    // ERR_NETWORK_CHANGED. Load again while our page's module has not run (no WebSocket opened
    // yet, so no ticket was used).
    let loads = 0;
    await page.goto(url);
    const title = await until(`noVNC's verdict (${what})`, async () => {
      const t = await page.title();
      if (t !== "Vela console") return t;
      const ran = (await page.evaluate("typeof window.velaRfb !== 'undefined'")) as boolean;
      if (!ran && said.some((l) => l.includes("ERR_NETWORK_CHANGED")) && loads < 5) {
        loads++;
        said.length = 0;
        await page.goto(url.replace("#", `?load=${loads}#`));
      }
      return undefined;
    }, 60_000, 200).catch((e: Error) => {
      throw new Error(`${e.message}; page said:\n${said.slice(-20).join("\n")}`);
    });
    if (title !== "connected") return { title, lit: 0 };
    // Pixels drawn on noVNC's canvas that are not black: the guest's screen arrived.
    const lit = await until("the screen drawn", async () => {
      // Evaluated in the page (a string: this package is compiled without the DOM's types).
      const n = (await page.evaluate(`(() => {
        const c = document.querySelector("canvas");
        const ctx = c && c.getContext("2d");
        if (!c || !ctx || c.width === 0) return 0;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let lit = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 0) lit++;
        return lit;
      })()`)) as number;
      return n > 0 ? n : undefined;
    }, 60_000, 250);
    return { title, lit };
  } finally {
    await page.close();
  }
}

test("noVNC in Chromium: connects through the proxy with tickets and draws the guest's screen", async () => {
  const t = await tickets();
  const first = await openConsole("fresh tickets", pageUrl(t));
  assert.equal(first.title, "connected");
  assert.ok(first.lit > 0, "the canvas shows the guest's screen");
  const again = await openConsole("used proxy ticket", pageUrl(t));
  assert.notEqual(again.title, "connected", "a used proxy ticket does not connect again");
  const wrong = await tickets();
  const bad = await openConsole("wrong VNC password", pageUrl({ ...wrong, password: wrong.password === "AAAAAAAA" ? "BBBBBBBB" : "AAAAAAAA" }));
  assert.match(bad.title, /security failure|disconnected/, `a wrong VNC password fails: ${bad.title}`);
  const missing = await fetch(`${eng.url}/ovirt-engine/services/novnc/../../api`);
  assert.notEqual(missing.status, 200);
  assert.equal((await fetch(`${eng.url}/ovirt-engine/services/novnc/core/..%2F..%2Fpackage.json`)).status, 404, "nothing outside core/ and vendor/");
});
