/**
 * Consoles end to end with a real engine, a real node and a real QEMU guest (TCG): VNC refuses
 * everyone until a ticket is set, tickets work and expire, the remote-viewer file, the engine's
 * WebSocket proxy (signed one-use tickets for one VM and console: a raw RFB handshake through it
 * and a framebuffer update; expired, replayed, tampered, other-VM, other-console and missing
 * tickets refused), the serial console through the proxy, consoleoutput (kept across an agent
 * restart), screenshot, NMI, reset, reboot, suspend/resume and shutdown forced after its timeout.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { AuthFailed, RfbClient, UpgradeRefused } from "./rfb.js";
import { type Engine, hostUp, items, type Node, nodeRpc, qemuOf, startEngine, startNode, tempDir, until } from "./support.js";

const here = dirname(fileURLToPath(import.meta.url));
const GUEST_SCRIPT = resolve(here, "../../../../scripts/build-test-guest.sh");
const TOKEN = "console-token";
const VNC = "766e63";
const SHUTDOWN_TIMEOUT_SEC = 3;

let eng: Engine;
let node: Node;
let vmId: string;
let guestDir: string;
const nodeRun = tempDir("vela-console-node-");

function guest(): { dir: string; kernel: string; initrd: string } {
  guestDir ??= execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() as string;
  return { dir: guestDir, kernel: join(guestDir, "vmlinuz"), initrd: join(guestDir, "initrd.img") };
}

async function startAgent(port?: number): Promise<Node> {
  return startNode({ engineUrl: eng.url, token: TOKEN, name: "console-host", runDir: nodeRun, port, env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: guest().dir } });
}

before(async () => {
  guest();
  eng = await startEngine({
    env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300", VELA_ENGINE_SHUTDOWN_TIMEOUT_SEC: String(SHUTDOWN_TIMEOUT_SEC), VELA_BOOT_DIRS: guest().dir },
  });
  node = await startAgent();
  await hostUp(eng);
  const g = guest();
  const vm = await eng.post<{ id: string }>("/vms", {
    name: "console-vm",
    cluster: { name: "Default" },
    memory: 192 * 2 ** 20,
    os: { type: "other_linux", kernel: g.kernel, initrd: g.initrd, cmdline: "console=ttyS0 vela.shell" },
  });
  vmId = vm.id;
  await eng.post(`/vms/${vmId}/start`, {});
  await statusIs("up");
  await consoleShows("GUEST-UP", 1);
});

after(async () => {
  for (const pid of qemuOf(vmId)) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

async function statusIs(status: string, timeoutMs = 60_000): Promise<void> {
  let last = "";
  await until(`VM ${status}`, async () => {
    last = (await eng.get<{ status: string }>(`/vms/${vmId}`)).status;
    return last === status ? true : undefined;
  }, timeoutMs, 200).catch((e: Error) => {
    throw new Error(`${e.message} (last status ${last}); node log:\n${node.output().slice(-2000)}`);
  });
}

async function consoleText(): Promise<string> {
  const r = await eng.api("GET", `/vms/${vmId}/consoleoutput`);
  if (r.status !== 200) throw new Error(`consoleoutput: ${r.status} ${r.text}`);
  return r.text;
}

function count(text: string, marker: string): number {
  return text.split(marker).length - 1;
}

/** Waits until the serial console has shown `marker` at least `times` times. */
async function consoleShows(marker: string, times = 1, timeoutMs = 90_000): Promise<string> {
  let last = "";
  return until(`console shows ${marker} ×${times}`, async () => {
    last = await consoleText();
    return count(last, marker) >= times ? last : undefined;
  }, timeoutMs, 300).catch((e: Error) => {
    throw new Error(`${e.message}; console ends:\n${last.slice(-1500)}`);
  });
}

async function ticket(body: unknown = {}, path = `/vms/${vmId}/graphicsconsoles/${VNC}/ticket`): Promise<{ value: string; expiry: string }> {
  const r = await eng.api("POST", path, { body: body as object });
  assert.equal(r.status, 200, r.text);
  return (r.json as { ticket: { value: string; expiry: string } }).ticket;
}

async function vncPort(): Promise<number> {
  const c = await eng.get<{ port: string; address: string }>(`/vms/${vmId}/graphicsconsoles/${VNC}`);
  return Number(c.port);
}

async function proxyTicket(kind: "vnc" | "serial" = "vnc", body: unknown = {}): Promise<{ value: string; path: string }> {
  const path = kind === "vnc" ? `/vms/${vmId}/graphicsconsoles/${VNC}/proxyticket` : `/vms/${vmId}/serialconsole/proxyticket`;
  const r = await eng.api("POST", path, { body: body as object });
  assert.equal(r.status, 200, r.text);
  const j = r.json as { proxy_ticket: { value: string }; proxy_path: string };
  return { value: j.proxy_ticket.value, path: j.proxy_path };
}

function wsUrl(path: string, t?: string): string {
  return `${eng.url.replace(/^http/, "ws")}${path}${t === undefined ? "" : `?ticket=${encodeURIComponent(t)}`}`;
}

async function refused(url: string): Promise<UpgradeRefused> {
  const err = await RfbClient.ws(url).then(
    (c) => {
      c.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof UpgradeRefused, `the upgrade must be refused, got ${String(err)}`);
  return err;
}

test("VNC listens with a password and refuses everyone before a ticket is set", async () => {
  const port = await vncPort();
  assert.ok(port >= 5900, `VNC port ${port}`);
  const c = await RfbClient.tcp(port);
  try {
    await assert.rejects(c.handshake("anything"), AuthFailed, "no password is set yet: VNC authentication must fail");
  } finally {
    c.close();
  }
});

test("graphics consoles: list, get, bad ids", async () => {
  const list = items<{ id: string; protocol: string; address: string; port: string }>((await eng.api("GET", `/vms/${vmId}/graphicsconsoles`)).json, "graphics_console");
  assert.equal(list.length, 1);
  assert.equal(list[0]?.id, VNC);
  assert.equal(list[0]?.protocol, "vnc");
  assert.equal(list[0]?.address, "127.0.0.1");
  assert.ok(Number(list[0]?.port) >= 5900);
  const xml = await eng.api("GET", `/vms/${vmId}/graphicsconsoles/${VNC}`, { accept: "xml" });
  assert.match(xml.text, /<graphics_console href="[^"]+" id="766e63">/);
  assert.match(xml.text, /rel="ticket"/);
  assert.equal((await eng.api("GET", `/vms/${vmId}/graphicsconsoles/7370696365`)).status, 404, "no SPICE console");
  assert.equal((await eng.api("GET", `/vms/${randomUUID()}/graphicsconsoles`)).status, 404, "unknown VM");
  assert.equal((await eng.api("GET", "/vms/not-a-uuid/graphicsconsoles")).status, 404, "malformed VM id");
  assert.equal((await eng.api("POST", `/vms/${vmId}/graphicsconsoles/abc/ticket`, { body: {} })).status, 404, "unknown console");
  assert.equal((await eng.api("GET", `/vms/${vmId}/graphicsconsoles`, { auth: null })).status, 401, "no auth");
});

test("ticket: a one-time VNC password that works, and stops working at its expiry", async () => {
  const t = await ticket();
  assert.equal(t.value.length, 8);
  assert.equal(Number(t.expiry), 120);
  const port = await vncPort();
  const c = await RfbClient.tcp(port);
  try {
    await c.handshake(t.value);
    assert.ok(c.width > 0 && c.height > 0, `framebuffer ${c.width}x${c.height}`);
    c.requestUpdate(false);
    const u = await c.readUpdate();
    assert.ok(u.rects >= 1 && u.bytes > 0, `a framebuffer update with pixels: ${JSON.stringify(u)}`);
  } finally {
    c.close();
  }
  const wrong = await RfbClient.tcp(port);
  await assert.rejects(wrong.handshake(t.value === "wrongpwd" ? "wrongpw2" : "wrongpwd"), AuthFailed, "a wrong password is refused");
  wrong.close();

  // oVirt's form: POST /vms/{id}/ticket with a chosen value and a short expiry.
  const short = await ticket({ ticket: { value: "Sh0rt-Tk", expiry: 1 } }, `/vms/${vmId}/ticket`);
  assert.equal(short.value, "Sh0rt-Tk");
  // QEMU compares expiry in whole seconds (expired once now > set + ttl), counted from when the
  // node set it, which under load can be well after the request was sent: wait for the refusal
  // itself, within a bound that a ticket that never expires would overrun.
  await until(
    "the expired ticket refused",
    async () => {
      const late = await RfbClient.tcp(port);
      try {
        await late.handshake("Sh0rt-Tk");
        return undefined;
      } catch (err) {
        if (err instanceof AuthFailed) return true;
        throw err;
      } finally {
        late.close();
      }
    },
    15_000,
    250,
  );

  // Bad input: answered with a fault, nothing set.
  for (const bad of [{ ticket: { value: "has space" } }, { ticket: { value: "ninechars" } }, { ticket: { expiry: 0 } }, { ticket: { expiry: "soon" } }]) {
    const r = await eng.api("POST", `/vms/${vmId}/ticket`, { body: bad });
    assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${r.status} ${r.text}`);
    assert.ok((r.json as { reason?: string }).reason, "an oVirt fault");
  }
  assert.equal((await eng.api("POST", `/vms/${randomUUID()}/ticket`, { body: {} })).status, 404);
});

/** A JSON-RPC call straight to the node agent (the verb table's validation, VDSM's answer shape). */
async function nodeCall(method: string, params: Record<string, unknown>): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  return nodeRpc<unknown>(node, method, params);
}

test("node verbs: VM.setTicket sets a console ticket; bad tickets are InvalidParameter", async () => {
  const set = await nodeCall("VM.setTicket", { vmID: vmId, password: "N0de-Tkt", ttl: 60 });
  assert.equal(set.error, undefined, JSON.stringify(set.error));
  const c = await RfbClient.tcp(await vncPort());
  await c.handshake("N0de-Tkt");
  c.close();
  for (const [method, params] of [
    ["VM.setTicket", { vmID: vmId, password: "no spaces", ttl: 60 }],
    ["VM.setTicket", { vmID: vmId, password: "x", ttl: 0 }],
    ["VM.setTicket", { vmID: vmId, password: "", ttl: 60 }],
    ["VM.setTicket", { vmID: "../../etc", password: "abc", ttl: 60 }],
    ["VM.sendKeys", { vmID: vmId, keys: ["ctrl;reboot"] }],
    ["VM.getConsoleOutput", { vmID: vmId, maxBytes: 0 }],
  ] as const) {
    const r = await nodeCall(method, params);
    assert.equal(r.error?.code, 1000, `${method} ${JSON.stringify(params)} → ${JSON.stringify(r)}`);
  }
  assert.equal((await nodeCall("VM.setTicket", { vmID: randomUUID(), password: "abc", ttl: 5 })).error?.code, 1, "unknown VM: noVM");
  // The earlier password still works: refused calls changed nothing.
  const again = await RfbClient.tcp(await vncPort());
  await again.handshake("N0de-Tkt");
  again.close();
});

test("remote-viewer file: Accept application/x-virt-viewer and the remoteviewerconnectionfile action", async () => {
  const r = await fetch(`${eng.url}/ovirt-engine/api/vms/${vmId}/graphicsconsoles/${VNC}`, {
    headers: { accept: "application/x-virt-viewer", authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}` },
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /application\/x-virt-viewer/);
  const vv = await r.text();
  assert.match(vv, /^\[virt-viewer\]\ntype=vnc\nhost=127\.0\.0\.1\nport=\d+\npassword=\S{8}\n/);
  const password = /password=(\S+)/.exec(vv)?.[1] as string;
  const port = Number(/port=(\d+)/.exec(vv)?.[1]);
  const c = await RfbClient.tcp(port);
  await c.handshake(password);
  c.close();
  const a = await eng.api("POST", `/vms/${vmId}/graphicsconsoles/${VNC}/remoteviewerconnectionfile`, { body: {} });
  assert.equal(a.status, 200, a.text);
  assert.match((a.json as { remote_viewer_connection_file: string }).remote_viewer_connection_file, /\[virt-viewer\][\s\S]*password=/);
});

test("WebSocket proxy: RFB through it with a proxy ticket; bad tickets refused", async () => {
  const vnc = await ticket();
  const pt = await proxyTicket("vnc");
  assert.equal(pt.path, `/ovirt-engine/services/console/${vmId}/vnc`);
  const c = await RfbClient.ws(wsUrl(pt.path, pt.value));
  try {
    assert.equal(await c.greeting().then((g) => g), "RFB 003.008\n", "the VNC server's greeting through the proxy");
  } finally {
    c.close();
  }
  // The proxy ticket was used: the same one again is a replay.
  assert.match((await refused(wsUrl(pt.path, pt.value))).body, /replayed/);

  const fresh = await proxyTicket("vnc");
  const full = await RfbClient.ws(wsUrl(fresh.path, fresh.value));
  try {
    await full.handshake(vnc.value);
    full.requestUpdate(false);
    const u = await full.readUpdate();
    assert.ok(u.rects >= 1 && u.bytes > 0, `framebuffer update through the proxy: ${JSON.stringify(u)}`);
  } finally {
    full.close();
  }

  // Another VM's console path with this VM's ticket; the serial console with a VNC ticket.
  const other = await proxyTicket("vnc");
  assert.equal((await refused(wsUrl(`/ovirt-engine/services/console/${randomUUID()}/vnc`, other.value))).status, 403);
  assert.equal((await refused(wsUrl(`/ovirt-engine/services/console/${vmId}/serial`, other.value))).status, 403);
  // Not used up by those refusals? It was checked first against the VM, so it is still good once.
  const ok = await RfbClient.ws(wsUrl(other.path, other.value));
  assert.match(await ok.greeting(), /^RFB /);
  ok.close();

  // Tampered payload or signature, none at all, malformed VM id, an unknown path.
  const t = await proxyTicket("vnc");
  const [payload, sig] = t.value.split(".") as [string, string];
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
  const forged = `${Buffer.from(JSON.stringify({ ...claims, exp: Number(claims.exp) + 3_600_000 })).toString("base64url")}.${sig}`;
  assert.match((await refused(wsUrl(t.path, forged))).body, /bad-signature/);
  assert.match((await refused(wsUrl(t.path, `${payload}.${"A".repeat(43)}`))).body, /bad-signature/);
  assert.match((await refused(wsUrl(t.path, "garbage"))).body, /malformed/);
  assert.equal((await refused(wsUrl(t.path))).status, 401);
  assert.equal((await refused(wsUrl("/ovirt-engine/services/console/not-a-uuid/vnc", t.value))).status, 404);
  assert.equal((await refused(wsUrl("/ovirt-engine/services/elsewhere", t.value))).status, 404);

  // Expired: a ticket made to live one second.
  const brief = await proxyTicket("vnc", { ticket: { expiry: 1 } });
  const exp = Number((JSON.parse(Buffer.from(brief.value.split(".")[0] as string, "base64url").toString()) as { exp: number }).exp);
  await until("proxy ticket expired", async () => (Date.now() > exp + 50 ? true : undefined), 5000, 50);
  assert.match((await refused(wsUrl(brief.path, brief.value))).body, /expired/);

  // No proxy ticket without authentication; none for an unknown VM.
  assert.equal((await eng.api("POST", `/vms/${vmId}/graphicsconsoles/${VNC}/proxyticket`, { body: {}, auth: null })).status, 401);
  assert.equal((await eng.api("POST", `/vms/${randomUUID()}/graphicsconsoles/${VNC}/proxyticket`, { body: {} })).status, 404);
});

/** Opens the serial console through the proxy; resolves with a send function and the text so far. */
async function serialSession(): Promise<{ send(s: string): void; text(): string; close(): void }> {
  const pt = await proxyTicket("serial");
  assert.equal(pt.path, `/ovirt-engine/services/console/${vmId}/serial`);
  const ws = new WebSocket(wsUrl(pt.path, pt.value), ["binary"]);
  let text = "";
  ws.on("message", (d: Buffer) => (text += d.toString("latin1")));
  await new Promise<void>((res, rej) => {
    ws.once("open", () => res());
    ws.once("error", rej);
    ws.once("unexpected-response", (_q, r) => rej(new Error(`serial upgrade refused: ${r.statusCode}`)));
  });
  return { send: (s) => ws.send(Buffer.from(s)), text: () => text, close: () => ws.close() };
}

test("serial console through the proxy, its output in consoleoutput, kept across an agent restart", async () => {
  const s = await serialSession();
  try {
    s.send("echo SERIAL-$((40+2))\n");
    await until("the shell answered on the serial console", async () => (s.text().includes("SERIAL-42") ? true : undefined), 30_000, 100).catch((e: Error) => {
      throw new Error(`${e.message}; got ${JSON.stringify(s.text().slice(-500))}`);
    });
  } finally {
    s.close();
  }
  const out = await consoleShows("SERIAL-42");
  assert.ok(Buffer.byteLength(out) <= 64 * 1024, "at most the last 64 KiB");
  assert.match(out, /GUEST-UP/);

  // The agent restarts; the VM keeps running and its log is still there.
  const port = node.port;
  await node.stop();
  node = await startAgent(port);
  await hostUp(eng, 30_000);
  // The engine may have marked the VM unknown while its host did not answer: wait for it again.
  await statusIs("up");
  await consoleShows("SERIAL-42");

  assert.equal((await eng.api("GET", `/vms/${vmId}/consoleoutput`, { auth: null })).status, 401);
  assert.equal((await eng.api("GET", `/vms/${randomUUID()}/consoleoutput`)).status, 404);
});

test("screenshot is a PNG", async () => {
  const r = await fetch(`${eng.url}/ovirt-engine/api/vms/${vmId}/screenshot`, {
    headers: { authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}` },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "image/png");
  const png = Buffer.from(await r.arrayBuffer());
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
});

test("NMI, send keys, reset and reboot reach the guest", async () => {
  const nmi = await eng.api("POST", `/vms/${vmId}/injectnmi`, { body: {} });
  assert.equal(nmi.status, 200, nmi.text);
  await consoleShows("NMI received");

  // Alt+SysRq+H: the guest kernel prints its SysRq help on the (serial) console.
  const keys = await eng.api("POST", `/vms/${vmId}/sendkeys`, { body: { keys: { key: ["alt", "sysrq", "h"] } } });
  assert.equal(keys.status, 200, keys.text);
  await consoleShows("HELP");
  for (const bad of [{ keys: { key: ["Ctrl;rm"] } }, { keys: {} }, { keys: { key: Array(17).fill("a") } }]) {
    const r = await eng.api("POST", `/vms/${vmId}/sendkeys`, { body: bad });
    assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${r.status} ${r.text}`);
  }

  const boots = count(await consoleText(), "GUEST-UP");
  assert.equal((await eng.api("POST", `/vms/${vmId}/reset`, { body: {} })).status, 200);
  await consoleShows("GUEST-UP", boots + 1);
  // The test guest's init ignores Ctrl+Alt+Del: reboot ends in the hard reset after the timeout.
  assert.equal((await eng.api("POST", `/vms/${vmId}/reboot`, { body: {} })).status, 200);
  await consoleShows("GUEST-UP", boots + 2);
  await statusIs("up");
});

test("suspend pauses the VM, start resumes it", async () => {
  assert.equal((await eng.api("POST", `/vms/${vmId}/suspend`, { body: {} })).status, 200);
  await statusIs("paused");
  assert.equal((await eng.api("POST", `/vms/${vmId}/suspend`, { body: {} })).status, 409, "already paused");
  assert.equal((await eng.api("POST", `/vms/${vmId}/reboot`, { body: {} })).status, 409, "no reboot while paused");
  const start = await eng.api("POST", `/vms/${vmId}/start`, { body: {} });
  assert.equal(start.status, 200, start.text);
  await statusIs("up");
});

test("shutdown: a guest that ignores the power button is powered off after the timeout", async () => {
  // Boot without ACPI: the power button goes nowhere.
  await eng.post(`/vms/${vmId}/stop`, {});
  await statusIs("down");
  const g = guest();
  const upd = await eng.api("PUT", `/vms/${vmId}`, { body: { os: { kernel: g.kernel, initrd: g.initrd, cmdline: "console=ttyS0 acpi=off" } } });
  assert.equal(upd.status, 200, upd.text);
  await eng.post(`/vms/${vmId}/start`, {});
  await statusIs("up");
  await consoleShows("GUEST-IDLE");
  const t0 = Date.now();
  assert.equal((await eng.api("POST", `/vms/${vmId}/shutdown`, { body: {} })).status, 200);
  await statusIs("down", 60_000);
  assert.ok(Date.now() - t0 >= SHUTDOWN_TIMEOUT_SEC * 1000, "powered off only after the timeout");
  assert.equal((await eng.api("GET", `/vms/${vmId}/consoleoutput`)).status, 409, "no console output from a VM that does not run");
  assert.equal((await eng.api("POST", `/vms/${vmId}/graphicsconsoles/${VNC}/proxyticket`, { body: {} })).status, 409, "no console for a VM that does not run");
  for (const [method, path] of [
    ["POST", `/vms/${vmId}/ticket`],
    ["POST", `/vms/${vmId}/reset`],
    ["POST", `/vms/${vmId}/reboot`],
    ["POST", `/vms/${vmId}/suspend`],
    ["POST", `/vms/${vmId}/injectnmi`],
    ["GET", `/vms/${vmId}/screenshot`],
  ] as const) {
    const r = await eng.api(method, path, method === "POST" ? { body: {} } : {});
    assert.equal(r.status, 409, `${method} ${path} on a down VM → ${r.status} ${r.text}`);
    assert.match(r.text, /not running/, "an oVirt fault that says why");
  }
  assert.equal((await eng.api("POST", `/vms/${randomUUID()}/reset`, { body: {} })).status, 404, "unknown VM");
  assert.equal((await eng.api("POST", "/vms/not-a-uuid/sendkeys", { body: { keys: { key: ["a"] } } })).status, 404, "malformed VM id");
  assert.equal(qemuOf(vmId).length, 0, "QEMU is gone");
});
