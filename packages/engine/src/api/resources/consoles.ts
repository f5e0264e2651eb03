/**
 * A VM's consoles and controls: `/vms/{id}/graphicsconsoles` (one VNC console, id 766e63 as
 * oVirt names it), console tickets (`ticket` actions), the remote-viewer (.vv) file, proxy tickets
 * for the engine's WebSocket console proxy (VNC and, a Vela extension, the serial console), the
 * serial console's recent output (`consoleoutput`), a screenshot, and the reset/reboot/suspend/
 * send-keys/NMI actions. Every route sits behind the API's authentication; seeing a VM is enough
 * to read its console output (the engine has one administrator today).
 */
import { ConsoleOutputResult, ScreenshotResult } from "@vela/protocol";
import { z } from "zod";
import { runCommand } from "../../commands/command.js";
import { mustById } from "../../db/repo/entities.js";
import { InjectNmi } from "../../commands/InjectNmi.js";
import { rebootVm } from "../../commands/RebootVm.js";
import { ResetVm } from "../../commands/ResetVm.js";
import { SendKeys } from "../../commands/SendKeys.js";
import { SetVmTicket, type Ticket } from "../../commands/SetVmTicket.js";
import { SuspendVm } from "../../commands/SuspendVm.js";
import { displayOf, runningOn, ticketsOf, VNC_CONSOLE_ID } from "../../console/index.js";
import { CONSOLE_PATH } from "../../console/proxy.js";
import type { ConsoleKind } from "../../console/tickets.js";
import type { Vm } from "../../db/schema.js";
import { userNameOf } from "../../permissions/access.js";
import type { Engine } from "../../engine.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { ApiFault, notFound } from "../../errors/fault.js";
import { actions, href, ref } from "../href.js";
import { Int, parseInput } from "../../input/input.js";
import { collection, type Rep } from "../repr.js";

/** The consoleoutput size: OpenStack-style "recent output", the last 64 KiB. */
const CONSOLE_OUTPUT_BYTES = 64 * 1024;
/** How long a proxy ticket may be used to open its connection (oVirt's default ticket life). */
const PROXY_TICKET_TTL_SEC = 120;
const VIRT_VIEWER = "application/x-virt-viewer";

function consoleBase(vmId: string): string {
  return href("vms", vmId, "graphicsconsoles", VNC_CONSOLE_ID);
}

function consoleView(vm: Vm, live?: { address: string; port: number }): Rep {
  const base = consoleBase(vm.id);
  return {
    href: base,
    id: VNC_CONSOLE_ID,
    actions: actions(base, ["proxyticket", "remoteviewerconnectionfile", "ticket"]),
    address: live?.address,
    port: live?.port,
    protocol: "vnc",
    vm: ref("vms", vm.id),
  };
}

/** The console's address and port while the VM runs (absent when it does not, or is starting). */
async function live(e: Engine, vm: Vm): Promise<{ address: string; port: number } | undefined> {
  if (vm.status === "down") return undefined;
  return displayOf(e, vm.id).catch(() => undefined);
}

function mustConsole(c: Call): void {
  const gid = c.params.gid ?? "";
  if (gid !== VNC_CONSOLE_ID) throw notFound("Graphics console", gid.slice(0, 80));
}

export async function graphicsConsoles(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  return ok("graphics_consoles", collection("graphics_console", [consoleView(vm, await live(c.engine, vm))]));
}

export async function graphicsConsole(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  mustConsole(c);
  if ((c.accept ?? "").toLowerCase().includes(VIRT_VIEWER)) {
    return { status: 200, raw: { type: VIRT_VIEWER, body: await remoteViewerFile(c.engine, vmId), filename: "console.vv" } };
  }
  const vm = await mustById(c.engine, "vms", vmId);
  return ok("graphics_console", consoleView(vm, await live(c.engine, vm)));
}

function ticketReply(t: Ticket): Reply {
  return ok("action", { status: "complete", ticket: { expiry: t.expiry, value: t.value } });
}

/** `POST /vms/{id}/ticket` and `POST /vms/{id}/graphicsconsoles/{gid}/ticket`. */
export async function ticket(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  if (c.params.gid !== undefined) mustConsole(c);
  return ticketReply(await runCommand(c.engine, SetVmTicket, { id, body: bodyOf(c, ["action"]) }));
}

/** A remote-viewer connection file with a fresh ticket (oVirt's .vv format). */
async function remoteViewerFile(e: Engine, vmId: string): Promise<string> {
  const t = await runCommand(e, SetVmTicket, { id: vmId, body: {} });
  const d = await displayOf(e, vmId);
  return [
    "[virt-viewer]",
    "type=vnc",
    `host=${d.address}`,
    `port=${d.port}`,
    `password=${t.value}`,
    "delete-this-file=1",
    `title=${t.vm.name.replace(/[\r\n]/g, " ")}:%d`,
    "toggle-fullscreen=shift+f11",
    "release-cursor=shift+f12",
    "secure-attention=ctrl+alt+end",
    "",
  ].join("\n");
}

export async function remoteViewerConnectionFile(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  mustConsole(c);
  bodyOf(c, ["action"]);
  return ok("action", { remote_viewer_connection_file: await remoteViewerFile(c.engine, vmId), status: "complete" });
}

/** Vela: `<action><ticket><expiry>seconds</expiry></ticket></action>` bounds the proxy ticket's life. */
const ProxyTicketInput = z.object({ ticket: z.object({ expiry: Int(1, 3600).optional() }).optional() });

/** A signed one-use ticket for the WebSocket proxy, for the calling user and this VM's console. */
async function proxyTicket(c: Call, kind: ConsoleKind): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  const p = parseInput(ProxyTicketInput, bodyOf(c, ["action"]), "action", "proxyticket");
  const { vm } = await runningOn(c.engine, vmId, `open the ${kind === "vnc" ? "graphics" : "serial"} console`);
  const ttl = p.ticket?.expiry ?? PROXY_TICKET_TTL_SEC;
  const { ticket: value } = ticketsOf(c.engine).issue({ vm: vm.id, kind, user: c.user && c.user.name !== "admin" ? userNameOf(c.user) : c.engine.cfg.adminUser }, ttl);
  return ok("action", {
    status: "complete",
    proxy_ticket: { value, expiry: ttl },
    // Vela: where to open the WebSocket with it (relative to the engine's URL).
    proxy_path: `${CONSOLE_PATH}/${vm.id}/${kind}`,
  });
}

export async function vncProxyTicket(c: Call): Promise<Reply> {
  mustConsole(c);
  return proxyTicket(c, "vnc");
}

export async function serialProxyTicket(c: Call): Promise<Reply> {
  return proxyTicket(c, "serial");
}

export async function consoleOutput(c: Call): Promise<Reply> {
  const { vm, host } = await runningOn(c.engine, pathId(c, "id", "VM"), "read the console output");
  const raw = await c.engine.nodes.for(host).call("getConsoleOutput", { vmId: vm.id, maxBytes: CONSOLE_OUTPUT_BYTES });
  const out = ConsoleOutputResult.safeParse(raw);
  if (!out.success) throw new ApiFault(500, "Operation Failed", "the node's console output was malformed");
  return { status: 200, raw: { type: "text/plain; charset=utf-8", body: Buffer.from(out.data.data, "base64") } };
}

export async function screenshot(c: Call): Promise<Reply> {
  const { vm, host } = await runningOn(c.engine, pathId(c, "id", "VM"), "take a screenshot");
  const raw = await c.engine.nodes.for(host).call("screenshot", { vmId: vm.id });
  const shot = ScreenshotResult.safeParse(raw);
  if (!shot.success) throw new ApiFault(500, "Operation Failed", "the node's screenshot was malformed");
  return { status: 200, raw: { type: "image/png", body: Buffer.from(shot.data.data, "base64") } };
}

function actionReply(vm: Vm): Reply {
  return ok("action", { status: "complete", vm: ref("vms", vm.id) });
}

export async function reset(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return actionReply(await runCommand(c.engine, ResetVm, { id }));
}

export async function reboot(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return actionReply(await runCommand(c.engine, rebootVm(c.engine.cfg.shutdownTimeoutSec), { id }));
}

export async function suspend(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return actionReply(await runCommand(c.engine, SuspendVm, { id }));
}

export async function sendKeys(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  return actionReply(await runCommand(c.engine, SendKeys, { id, body: bodyOf(c, ["action"]) }));
}

export async function injectNmi(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return actionReply(await runCommand(c.engine, InjectNmi, { id }));
}
