/**
 * The live event stream (Server-Sent Events) at /ovirt-engine/services/event-stream: the portal's
 * subscription to what the engine's live feed (bus.ts) carries — audit-log events as `/events`
 * records them and job progress. Authenticated like the API (bearer token or Basic); each message
 * goes out only if its reader may see it: administrators (whom `/events` serves) get everything,
 * other users only events about an object they see (the most specific one the event names), and
 * no jobs. Permissions are read afresh every few seconds, and the credentials are checked again
 * with each heartbeat: a revoked token ends the stream with an `end` message.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Engine } from "../engine.js";
import { Access, type Principal } from "../permissions/access.js";
import type { ObjRef } from "../permissions/tree.js";
import { type LiveMessage, listen } from "./bus.js";

export const EVENT_STREAM = "/ovirt-engine/services/event-stream";
const HEARTBEAT_MS = 15_000;
/** How long one reading of the user's permissions is trusted. */
const ACCESS_TTL_MS = 5_000;
/** A reader this far behind is dropped (it reconnects and reloads). */
const MAX_BUFFERED = 1024 * 1024;

/** The object an event concerns, most specific first: what a user must see to be told of it. */
function subject(m: LiveMessage): ObjRef | undefined {
  if (m.type !== "event") return undefined;
  if (m.vm) return { type: "vm", id: m.vm };
  if (m.storage_domain) return { type: "storage_domain", id: m.storage_domain };
  if (m.host) return { type: "host", id: m.host };
  if (m.cluster) return { type: "cluster", id: m.cluster };
  if (m.data_center) return { type: "data_center", id: m.data_center };
  return undefined;
}

function frame(m: LiveMessage): string {
  const id = m.type === "event" ? `id: ${m.id}\n` : "";
  return `${id}event: ${m.type}\ndata: ${JSON.stringify(m)}\n\n`;
}

/**
 * Serves one reader until it goes away or its credentials stop being valid. `stillValid` asks
 * the API's authentication again with the request's own credentials. Returns the function that
 * ends the stream (a sign-out calls it, so the page hears at once).
 */
export function serveEventStream(e: Engine, user: Principal, req: IncomingMessage, res: ServerResponse, stillValid: () => Promise<boolean>): (why: string) => void {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
    connection: "keep-alive",
  });
  res.write(`retry: 2000\nevent: ready\ndata: {}\n\n`);
  let access = new Access(e, user);
  let accessAt = Date.now();
  let admin = access.isAdmin();
  const readAccess = () => {
    if (Date.now() - accessAt > ACCESS_TTL_MS) {
      access = new Access(e, user);
      admin = access.isAdmin();
      accessAt = Date.now();
    }
    return access;
  };
  const may = async (m: LiveMessage): Promise<boolean> => {
    const a = readAccess();
    if (await admin) return true;
    const o = subject(m);
    return o !== undefined && (await a.sees(o));
  };
  // One chain per reader keeps the messages in order while permission checks are awaited.
  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  const close = (why?: string) => {
    if (closed) return;
    closed = true;
    stop();
    clearInterval(beat);
    if (why && res.writable) res.write(`event: end\ndata: ${JSON.stringify({ reason: why })}\n\n`);
    res.end();
  };
  const stop = listen(e, (m) => {
    chain = chain
      .then(async () => {
        if (closed || !(await may(m)) || closed) return;
        if (res.writableLength > MAX_BUFFERED) return close("too far behind");
        res.write(frame(m));
      })
      .catch((err: unknown) => e.log.warn({ err }, "event stream: cannot check a message"));
  });
  const beat = setInterval(() => {
    stillValid().then(
      (ok) => (ok ? res.write(": ping\n\n") : close("session ended")),
      () => close("session ended"),
    );
  }, HEARTBEAT_MS);
  req.on("close", () => close());
  res.on("error", () => close());
  return close;
}
