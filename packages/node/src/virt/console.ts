/**
 * Console and guest-control verbs over the VM table: console tickets (a one-time VNC password
 * with an expiry, set through QMP on a server that refuses everyone without one), the tail of
 * the serial console log, screenshots, keys, NMI, reset, pause and continue. Each acts only on a
 * VM whose QEMU answers QMP; the console log is read even from a Down VM until it is destroyed.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { type ConsoleOutputResult, type ScreenshotResult, VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../api/handlers.js";
import type { Logger } from "../log.js";
import type { QmpClient } from "../qemu/qmp.js";
import type { VmManager } from "./manager.js";
import type { Vm } from "./vm.js";

/** What consoleoutput shows by default: the last 64 KiB. */
export const CONSOLE_TAIL_BYTES = 64 * 1024;

function needsDisplay(vm: Vm, what: string): void {
  if (vm.rec.params.display !== "vnc") throw new VdsmError("createErr", `VM ${vm.id} has no display: cannot ${what}`);
}

/** Sets the VNC password and its expiry. The password itself is never logged. */
async function setTicket(vm: Vm, qmp: QmpClient, password: string, ttlSec: number, log: Logger): Promise<void> {
  needsDisplay(vm, "set a console ticket");
  await qmp.setPassword("vnc", password);
  await qmp.expirePassword("vnc", `+${ttlSec}`);
  log.info({ vmId: vm.id, ttlSec }, "console ticket set");
}

/** The last `max` bytes of a file and its size; an absent file is empty. */
async function tail(path: string, max: number): Promise<{ data: Buffer; size: number }> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, "r");
    const { size } = await fh.stat();
    const n = Math.min(size, max);
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, size - n);
    return { data: buf.subarray(0, bytesRead), size };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { data: Buffer.alloc(0), size: 0 };
    throw e;
  } finally {
    await fh?.close();
  }
}

async function screenshot(vm: Vm, qmp: QmpClient): Promise<ScreenshotResult> {
  needsDisplay(vm, "take a screenshot");
  // QEMU writes the file itself; it lives in the VM's own run directory for the moment it takes.
  const file = join(vm.paths.dir, `screendump-${randomBytes(6).toString("hex")}.png`);
  try {
    await qmp.screendump(file);
    return { format: "png", data: (await readFile(file)).toString("base64") };
  } finally {
    await rm(file, { force: true });
  }
}

const SERIAL_PATH_RE = /^\/vela\/console\/([0-9a-f-]{36})\/serial$/;

function digest(ticket: string): Buffer {
  return createHash("sha256").update(ticket).digest();
}

/**
 * The serial console relay: the engine sets a one-use ticket (setSerialTicket), then upgrades an
 * HTTP request to `/vela/console/<vmId>/serial` presenting it; the node answers 101 and relays
 * bytes to and from the VM's serial socket. Only a digest of the ticket is kept, never logged.
 */
export class SerialRelay {
  private tickets = new Map<string, { digest: Buffer; exp: number }>();

  constructor(
    private readonly vms: VmManager,
    private readonly log: Logger,
  ) {}

  set(vmId: string, ticket: string, ttlSec: number): void {
    this.vms.known(vmId);
    this.tickets.set(vmId, { digest: digest(ticket), exp: Date.now() + ttlSec * 1000 });
  }

  /** Uses up the VM's ticket if `presented` matches it and it has not expired. */
  private redeem(vmId: string, presented: string | undefined): boolean {
    const t = this.tickets.get(vmId);
    if (!t || !presented) return false;
    const ok = timingSafeEqual(t.digest, digest(presented)) && t.exp > Date.now();
    if (ok) this.tickets.delete(vmId);
    return ok;
  }

  upgrade(req: IncomingMessage, socket: Duplex): boolean {
    const m = SERIAL_PATH_RE.exec((req.url ?? "").split("?")[0] ?? "");
    if (!m) return false;
    const vmId = m[1] as string;
    const header = req.headers["x-vela-console-ticket"];
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.on("error", () => {});
    if (!this.redeem(vmId, typeof header === "string" ? header : undefined)) {
      this.log.warn({ vmId }, "serial console ticket refused");
      refuse("403 Forbidden");
      return true;
    }
    let vm: Vm;
    try {
      vm = this.vms.known(vmId);
    } catch {
      refuse("404 Not Found");
      return true;
    }
    const serial = connect({ path: vm.paths.console });
    serial.once("error", (e) => {
      this.log.warn({ vmId, err: String(e) }, "serial console not reachable");
      refuse("502 Bad Gateway");
    });
    serial.once("connect", () => {
      serial.removeAllListeners("error");
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: vela-serial\r\nConnection: Upgrade\r\n\r\n");
      this.log.info({ vmId }, "serial console session opened");
      serial.pipe(socket).on("error", () => {});
      socket.pipe(serial).on("error", () => {});
      const end = () => {
        serial.destroy();
        socket.destroy();
      };
      serial.once("close", end);
      socket.once("close", end);
      serial.on("error", () => {});
    });
    return true;
  }
}

export function consoleHandlers(vms: VmManager, log: Logger, relay: SerialRelay): PartialHandlers {
  return {
    setSerialTicket: async ({ vmId, ticket, ttl }) => {
      relay.set(vmId, ticket, ttl);
      return {};
    },
    setTicket: ({ vmId, password, ttl }) => vms.controlled(vmId, "set a console ticket", (vm, qmp) => setTicket(vm, qmp, password, ttl, log).then(() => ({}))),
    getConsoleOutput: async ({ vmId, maxBytes }) => {
      const vm = vms.known(vmId);
      const t = await tail(vm.paths.consoleLog, maxBytes ?? CONSOLE_TAIL_BYTES);
      const consoleOutput: ConsoleOutputResult = { data: t.data.toString("base64"), size: t.size };
      return { consoleOutput };
    },
    screenshot: ({ vmId }) => vms.controlled(vmId, "take a screenshot", async (vm, qmp) => ({ screenshot: await screenshot(vm, qmp) })),
    sendKeys: ({ vmId, keys }) =>
      vms.controlled(vmId, "send keys", async (_vm, qmp) => {
        await qmp.sendKey(keys).catch((e: unknown) => {
          throw new VdsmError("InvalidParameter", `cannot send keys ${keys.join("+")}: ${(e as Error).message}`);
        });
        return {};
      }),
    injectNmi: ({ vmId }) => vms.controlled(vmId, "inject an NMI", (_vm, qmp) => qmp.injectNmi().then(() => ({}))),
    reset: ({ vmId }) => vms.controlled(vmId, "reset", (_vm, qmp) => qmp.systemReset().then(() => ({}))),
    pause: ({ vmId }) => vms.controlled(vmId, "pause", (_vm, qmp) => qmp.stop().then(() => ({}))),
    cont: ({ vmId }) => vms.controlled(vmId, "continue", (_vm, qmp) => qmp.cont().then(() => ({}))),
  };
}
