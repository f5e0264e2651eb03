/**
 * Waiting helpers of the node's cluster tests and the benchmarks: the test kit's, with the cluster
 * suite's slower defaults for `until` (60 s, polled every 200 ms: failovers take lease times).
 */
import { until as kitUntil } from "@vela/testkit";

export { sleep, withTimeout } from "@vela/testkit";

/** Polls until fn returns something other than undefined (errors count as "not yet"). */
export function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, stepMs = 200): Promise<T> {
  return kitUntil(what, fn, timeoutMs, stepMs);
}
