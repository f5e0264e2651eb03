/**
 * The portal's live updates: one Server-Sent Events stream per signed-in tab from the engine's
 * /ovirt-engine/services/event-stream (read with fetch, so the token travels in the Authorization
 * header, never in a URL), reconnecting after a break. Pages subscribe to the messages — audit-log
 * events naming the objects they concern, and job progress — instead of polling. The stream's
 * `end` (the engine ended the session) sends the page back to sign-in like a refused API call.
 */
import type { LiveEvent, LiveJob } from "../../../engine/src/events/live-message";
import { currentSession, expireSession, onSession } from "./api";

export type { LiveEvent, LiveJob };

/** `ready` comes each time the stream (re)connects: whatever was missed meanwhile must be reloaded. */
export type LiveMessage = LiveEvent | LiveJob | { type: "ready" };
type Listener = (m: LiveMessage) => void;

const STREAM = "/ovirt-engine/services/event-stream";
const listeners = new Set<Listener>();
let running: AbortController | undefined;

function dispatch(m: LiveMessage): void {
  for (const l of listeners) l(m);
}

/** Splits the stream into SSE frames and hands each `event:`/`data:` pair on. */
function parseFrames(buf: string, on: (type: string, data: string) => void): string {
  for (let at = buf.indexOf("\n\n"); at >= 0; at = buf.indexOf("\n\n")) {
    const frame = buf.slice(0, at);
    buf = buf.slice(at + 2);
    let type = "message";
    const data: string[] = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("event:")) type = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    if (data.length) on(type, data.join("\n"));
  }
  return buf;
}

async function readOnce(token: string, signal: AbortSignal): Promise<"ended" | "broken"> {
  const res = await fetch(STREAM, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" }, signal, cache: "no-store" });
  if (res.status === 401) return "ended";
  if (!res.ok || !res.body) return "broken";
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let ended = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return ended ? "ended" : "broken";
    buf = parseFrames(buf + value.replace(/\r\n/g, "\n"), (type, data) => {
      if (type === "end") ended = true;
      else if (type === "ready") dispatch({ type: "ready" });
      else if (type === "event" || type === "job") dispatch(JSON.parse(data) as LiveMessage);
    });
  }
}

/** Keeps the stream open while there is a session; waits a little longer after each break. */
async function run(ctl: AbortController): Promise<void> {
  let wait = 500;
  while (!ctl.signal.aborted) {
    const s = currentSession();
    if (!s) return;
    const how = await readOnce(s.token, ctl.signal).catch(() => "broken" as const);
    if (ctl.signal.aborted) return;
    if (how === "ended") {
      // the engine no longer takes this token: back to sign-in, as a refused API call does
      if (currentSession()?.token === s.token) expireSession();
      return;
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 10_000);
  }
}

function restart(): void {
  running?.abort();
  running = undefined;
  if (!currentSession() || listeners.size === 0) return;
  const ctl = new AbortController();
  running = ctl;
  void run(ctl);
}

onSession(() => restart());

/** Hears every live message while subscribed; the stream opens with the first subscriber. */
export function subscribe(l: Listener): () => void {
  listeners.add(l);
  if (!running) restart();
  return () => {
    listeners.delete(l);
    if (listeners.size === 0) {
      running?.abort();
      running = undefined;
    }
  };
}

/** Filters for `useLive`: any audit-log event; one naming an object of a kind; any job change. */
export const anyEvent = (m: LiveMessage): boolean => m.type === "event";
export const about =
  (...kinds: ("vm" | "host" | "storage_domain" | "data_center" | "cluster")[]) =>
  (m: LiveMessage): boolean =>
    m.type === "event" && kinds.some((k) => m[k] !== undefined);
export const anyJob = (m: LiveMessage): boolean => m.type === "job";
export const eventOrJob = (m: LiveMessage): boolean => m.type === "event" || m.type === "job";
