/**
 * Console and guest-control verbs of a running VM: console tickets (VDSM's `setTicket`; the
 * table's `VM.updateDevice` belongs to network.ts), the serial console's recent output, a screenshot, keys, NMI,
 * reset, pause and continue. Each declares its parameters and, where it answers data, the zod
 * schema of that answer, which the engine checks what it receives against.
 */
import { z } from "zod";
import { Uuid } from "../schemas.js";
import { done, out, p, verb } from "../verb.js";
import { Int } from "./common.js";
import { VmSummary } from "./vm.js";

/**
 * A console password. VNC's authentication uses only its first 8 bytes (DES keys), so the engine
 * issues 8-character tickets; printable ASCII only, as it ends up in QMP and .vv files.
 */
export const ConsolePassword = z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, "not printable ASCII without spaces");

/** Seconds a ticket stays valid: at least one, at most a day. */
export const TicketTtl = Int.refine((n) => n >= 1 && n <= 86_400, { message: "ttl out of range (1..86400 s)" });

/** VDSM's graphics device form of updateDevice (a ticket), for when VM.updateDevice takes graphics devices too. */
export const GraphicsDeviceUpdate = z.object({
  deviceType: z.literal("graphics"),
  graphicsType: z.enum(["vnc"]).default("vnc"),
  password: ConsolePassword,
  ttl: TicketTtl,
  existingConnAction: z.enum(["keep", "disconnect", "fail"]).default("keep"),
});

/** QEMU key names (QKeyCode) that send-keys accepts: lower-case words, digits, underscores. */
export const KeyName = z.string().regex(/^[a-z0-9_]{1,20}$/, "not a key name");

/** The answer of getConsoleOutput: the tail of the serial console log. */
export const ConsoleOutputResult = z.object({
  /** Base64 of the last bytes of the console log (raw guest output, not necessarily UTF-8). */
  data: z.string(),
  /** Bytes the whole log holds (more than `data` when it was cut). */
  size: z.number().int().min(0),
});
export type ConsoleOutputResult = z.infer<typeof ConsoleOutputResult>;

/** The answer of screenshot: a PNG, base64. */
export const ScreenshotResult = z.object({ format: z.literal("png"), data: z.string().min(1) });
export type ScreenshotResult = z.infer<typeof ScreenshotResult>;

/** Most of the console log a caller may ask for at once. */
export const MAX_CONSOLE_OUTPUT = 1024 * 1024;

export const consoleVerbs = {
  setTicket: verb("setTicket", "VM.setTicket", [
    p("vmId", Uuid, "vmID"),
    p("password", ConsolePassword, "password"),
    p("ttl", TicketTtl, "ttl"),
    p("existingConnAction", z.enum(["keep", "disconnect", "fail"]).optional().default("keep"), "existingConnAction"),
    p("params", z.record(z.string(), z.unknown()).optional(), "params"),
  ], done),
  /**
   * Vela: a one-use ticket for the node's serial console relay (`GET /vela/console/<vmId>/serial`
   * with Upgrade and the ticket in `X-Vela-Console-Ticket`), which the engine's proxy uses.
   */
  setSerialTicket: verb("setSerialTicket", "VM.setSerialTicket", [
    p("vmId", Uuid, "vmID"),
    p("ticket", z.string().regex(/^[A-Za-z0-9_-]{22,128}$/, "not a serial console ticket"), "ticket"),
    p("ttl", TicketTtl, "ttl"),
  ], done),
  getConsoleOutput: verb(
    "getConsoleOutput",
    "VM.getConsoleOutput",
    [p("vmId", Uuid, "vmID"), p("maxBytes", Int.refine((n) => n >= 1 && n <= MAX_CONSOLE_OUTPUT, { message: "maxBytes out of range" }).optional(), "maxBytes")],
    out("consoleOutput", ConsoleOutputResult),
  ),
  screenshot: verb("screenshot", "VM.screenshot", [p("vmId", Uuid, "vmID")], out("screenshot", ScreenshotResult)),
  sendKeys: verb("sendKeys", "VM.sendKeys", [p("vmId", Uuid, "vmID"), p("keys", z.array(KeyName).min(1).max(16), "keys")], done),
  injectNmi: verb("injectNmi", "VM.injectNmi", [p("vmId", Uuid, "vmID")], done),
  reset: verb("reset", "VM.reset", [p("vmId", Uuid, "vmID")], done),
  pause: verb("pause", "VM.pause", [p("vmId", Uuid, "vmID")], done),
  cont: verb("cont", "VM.cont", [p("vmId", Uuid, "vmID")], done),
} as const;
