/**
 * Waiting helpers shared by the node's process tests, the cluster tests and the benchmarks: a
 * sleep, a poll that waits for a condition (never for fixed time) and says what it waited for,
 * and a timeout around a promise.
 */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until fn returns something other than undefined (errors count as "not yet"). */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, stepMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(stepMs);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timeout ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

