/**
 * The engine's live feed: what `/events` records (each audit-log row as it is written) and job
 * progress (jobs and steps as they start, move and end), handed to whoever listens in this
 * process — the portal's event stream (events/stream.ts). Publishing never fails or waits on
 * a listener: a listener that throws is logged and the rest still hear the message.
 */
import type { Engine } from "../engine.js";
import type { LiveMessage } from "./live-message.js";

export type { LiveEvent, LiveJob, LiveMessage } from "./live-message.js";
export type Listener = (m: LiveMessage) => void;

const buses = new WeakMap<Engine, Set<Listener>>();

function bus(e: Engine): Set<Listener> {
  let b = buses.get(e);
  if (!b) {
    b = new Set();
    buses.set(e, b);
  }
  return b;
}

/** Starts hearing every message; returns the function that stops it. */
export function listen(e: Engine, l: Listener): () => void {
  const b = bus(e);
  b.add(l);
  return () => b.delete(l);
}

/** Whether anyone listens (so publishers can skip work that only a listener needs). */
export function listened(e: Engine): boolean {
  return (buses.get(e)?.size ?? 0) > 0;
}

export function publish(e: Engine, m: LiveMessage): void {
  const b = buses.get(e);
  if (!b) return;
  for (const l of b) {
    try {
      l(m);
    } catch (err) {
      e.log.warn({ err, type: m.type }, "live listener failed");
    }
  }
}
