/**
 * Where a block job's time goes: wall time per named step, logged at debug level with the job's
 * end (`block-ops` bench and anyone reading an agent's debug log). Costs two clock reads a step.
 */
import type { Logger } from "../../log.js";

export interface Steps {
  /** Ends the step running since the last mark (or the start) and names it. */
  mark(name: string): void;
  /** Logs the steps so far (debug) under `what`. */
  done(what: string): void;
}

export function steps(log: Logger): Steps {
  let last = performance.now();
  const t0 = last;
  const times: Record<string, number> = {};
  return {
    mark(name) {
      const now = performance.now();
      times[name] = Number(((times[name] ?? 0) + now - last).toFixed(1));
      last = now;
    },
    done(what) {
      log.debug({ steps: times, totalMs: Number((performance.now() - t0).toFixed(1)) }, `${what} steps`);
    },
  };
}
