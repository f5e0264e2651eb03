/**
 * The console WebSocket proxy, as oVirt's websocket-proxy: a browser (noVNC) or any WebSocket
 * client opens `ws://<engine>/ovirt-engine/services/console/<vmId>/<vnc|serial>?ticket=<t>`; the
 * proxy redeems the signed, one-use ticket for exactly that VM and console, finds the console on
 * the VM's host now, and relays binary frames to and from the console's byte stream (the VNC
 * server's TCP stream; the serial console through its node). Anything else is refused before the
 * upgrade with an HTTP status; the ticket is never logged.
 */
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { ApiFault } from "../errors/fault.js";
import { asUuid } from "../db/ids.js";
import type { Engine } from "../engine.js";
import { displayOf, knownUser, ticketsOf } from "./index.js";
import { openSerial } from "./serial.js";
import { type ConsoleKind, TicketError } from "./tickets.js";

export const CONSOLE_PATH = "/ovirt-engine/services/console";
const PATH_RE = /^\/ovirt-engine\/services\/console\/([^/?]+)\/(vnc|serial)$/;
const CONNECT_TIMEOUT_MS = 10_000;
/** noVNC and websockify speak binary frames, under the "binary" subprotocol when one is asked for. */
const SUBPROTOCOL = "binary";

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

function tcpConnect(address: string, port: number): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect({ host: address, port, noDelay: true });
    const timer = setTimeout(() => s.destroy(new Error(`no connection to ${address}:${port} in ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    s.once("connect", () => {
      clearTimeout(timer);
      res(s);
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      rej(e);
    });
  });
}

async function target(e: Engine, vmId: string, kind: ConsoleKind): Promise<Duplex> {
  if (kind === "serial") return openSerial(e, vmId);
  const d = await displayOf(e, vmId);
  return tcpConnect(d.address, d.port);
}

/** Bytes queued towards the viewer above which reading from the console pauses. */
const HIGH_WATER = 4 * 1024 * 1024;

/**
 * Relays bytes both ways with plain events (each read from the console is one binary frame; each
 * frame is written as is): fewer hops than stream adapters, which shows in a console's latency.
 * Backpressure: the console is paused while the viewer lags, the viewer while the console does.
 * Either side ending ends both: a closed viewer must not keep the console busy.
 */
function relay(ws: WebSocket, upstream: Duplex, closed: () => void): void {
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    upstream.destroy();
    ws.terminate();
    closed();
  };
  upstream.on("data", (d: Buffer) => {
    ws.send(d, { binary: true }, () => {
      if (upstream.isPaused() && ws.bufferedAmount < HIGH_WATER / 2) upstream.resume();
    });
    if (ws.bufferedAmount > HIGH_WATER) upstream.pause();
  });
  ws.on("message", (d: Buffer) => {
    if (!upstream.write(d)) {
      ws.pause();
      upstream.once("drain", () => ws.resume());
    }
  });
  upstream.on("close", end);
  upstream.on("error", end);
  ws.on("close", end);
  ws.on("error", end);
}

/** The handler of upgrades on the engine's HTTP server (other upgrade paths are refused). */
export function consoleProxy(e: Engine): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const log = e.log.child({ mod: "console-proxy" });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4 * 1024 * 1024,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  async function accept(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? "/", "http://engine");
    const m = PATH_RE.exec(url.pathname);
    if (!m) return refuse(socket, 404, "Not Found");
    const vmId = asUuid(decodeURIComponent(m[1] ?? ""));
    const kind = m[2] as ConsoleKind;
    if (!vmId) return refuse(socket, 404, "Not Found");
    const ticket = url.searchParams.get("ticket");
    if (!ticket) return refuse(socket, 401, "Unauthorized: a console ticket is required");
    let user: string;
    try {
      // the ticket's user is checked against the database right after (a removed user's ticket dies)
      user = ticketsOf(e).redeem(ticket, vmId, kind, () => true).user;
      if (!(await knownUser(e, user))) throw new TicketError("unknown-user");
    } catch (err) {
      if (!(err instanceof TicketError)) throw err;
      log.warn({ vmId, kind, refusal: err.code }, "console ticket refused");
      return refuse(socket, 403, `Forbidden: console ticket refused (${err.code})`);
    }
    let upstream: Duplex;
    try {
      upstream = await target(e, vmId, kind);
    } catch (err) {
      const status = err instanceof ApiFault ? err.status : 502;
      log.warn({ vmId, kind, err: err instanceof ApiFault ? err.detail : String(err) }, "console not reachable");
      return refuse(socket, status, err instanceof ApiFault ? `Console not available: ${err.detail}` : "Bad Gateway: console not reachable");
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      (socket as Socket).setNoDelay?.(true);
      log.info({ vmId, kind, user }, "console session opened");
      relay(ws, upstream, () => log.info({ vmId, kind, user }, "console session closed"));
    });
  }
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    void accept(req, socket, head).catch((err: unknown) => {
      log.warn({ err: String(err) }, "console upgrade failed");
      refuse(socket, 500, "Internal Server Error");
    });
  };
}
