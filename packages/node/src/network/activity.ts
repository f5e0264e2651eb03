/**
 * The connectivity check's evidence: when a client last called `ping`. After a network change
 * the engine keeps pinging over the (possibly new) path; if no ping arrives in time, the node
 * concludes it cut itself off and rolls the change back, as VDSM does.
 */
let lastPingAt = 0;
const waiters = new Set<() => void>();

export function notePing(): void {
  lastPingAt = Date.now();
  for (const w of waiters) w();
}

/** Resolves true once a ping arrives after `since` (ms epoch), false after `timeoutMs`. */
export function waitPingAfter(since: number, timeoutMs: number): Promise<boolean> {
  if (lastPingAt > since) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      waiters.delete(onPing);
      resolve(ok);
    };
    const onPing = () => {
      if (lastPingAt > since) done(true);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    waiters.add(onPing);
  });
}
