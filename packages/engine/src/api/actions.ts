/**
 * Replies to actions whose work continues after the request, as oVirt gives them: 202 with
 * `<action><async>true</async><status>pending</status><job/>…</action>`; with `async=false` (in
 * the action body or the query) the request waits for the job and answers 200 with
 * `<status>complete</status>`, or the fault the job ended with. Pure reply building.
 */
import type { Started } from "../commands/background.js";
import type { Call, Reply } from "./call.js";
import { ok } from "./call.js";
import { ref } from "./href.js";
import type { Rep } from "./repr.js";

/** The client asked to wait: `async=false` in the query or the action body. */
export function waits(c: Call): boolean {
  const q = c.query.async;
  if (q !== undefined) return q.toLowerCase() === "false";
  const b = c.body?.value?.async;
  return b === false || (typeof b === "string" && b.toLowerCase() === "false");
}

export async function longAction(c: Call, started: Started, extra: Rep = {}): Promise<Reply> {
  if (waits(c)) {
    const out = await started.done;
    if (!out.ok && out.fault) throw out.fault;
    return ok("action", { status: "complete", ...extra, job: ref("jobs", started.jobId) });
  }
  return ok("action", { async: true, status: "pending", ...extra, job: ref("jobs", started.jobId) }, 202);
}

/** For add/remove that run on: wait only when asked (`async=false`). */
export async function settleIfAsked(c: Call, started: Started): Promise<void> {
  if (!waits(c)) return;
  const out = await started.done;
  if (!out.ok && out.fault) throw out.fault;
}
