/**
 * A fingerprint of a directory tree for "bad input changes nothing on disk" assertions: every
 * path with its mode, size and, for small files, a hash of the content.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const MiB = 2 ** 20;

/** Liveness records rewritten all the time by design (host ids, SPM lease, mailboxes). */
export const LIVE = /\/dom_md\/(ids|leases|inbox|outbox|xleases)$/;

/** Every path under `dir` with its type, size, mode and a hash of small files' content. */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    const st = lstatSync(p);
    let sig = `${st.mode}:${LIVE.test(p) ? "" : st.size}`;
    if (st.isFile() && st.size < 4 * MiB && !LIVE.test(p)) sig += `:${createHash("sha1").update(readFileSync(p)).digest("hex")}`;
    out.set(p, sig);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}
