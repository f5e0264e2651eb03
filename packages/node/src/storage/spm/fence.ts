/**
 * The SPM write fence: every write to pool metadata on shared storage (domain metadata, volume
 * metadata, volume files, task records) passes `guardWrite(path, what)` first. While this host is
 * connected to a pool, the pool's domain directories are a fenced zone: a write there is allowed
 * only to a valid SPM (lease renewed within its safe horizon, POOL_SPM_LVER on disk still its own),
 * and each allowed write is appended to an audit log tagged with the writer's host id and LVER.
 * Paths outside every zone (domains not in a connected pool, the run dir) pass untouched.
 *
 * The check runs synchronously right before the write, so a process frozen (SIGSTOP) past its
 * lease fails the check when it wakes, before its pending write reaches storage. Never lets a
 * write through when the check itself fails (an unreadable master counts as "not SPM").
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { join, relative } from "node:path";
import { VdsmError } from "@vela/protocol";

/** Throws (SpmStatusError) when the write must not happen; otherwise records it. */
export type WriteGuard = (path: string, what: string) => void;

interface Zone {
  prefixes: string[];
  guard: WriteGuard;
}

const zones = new Set<Zone>();

/** Fences `dirs` (domain directories) with `guard` until the returned handle is closed. */
export function fenceZone(dirs: string[], guard: WriteGuard): { update(dirs: string[]): void; close(): void } {
  const zone: Zone = { prefixes: dirs.map(trimSlash), guard };
  zones.add(zone);
  return {
    update(next: string[]) {
      zone.prefixes = next.map(trimSlash);
    },
    close() {
      zones.delete(zone);
    },
  };
}

/**
 * The SPM task a piece of work runs for (set by the task starter). A task of an earlier SPM term
 * of this host (fenced when the lease was lost) must never write, even if this host is SPM again
 * by the time its job gets to its next step: the next SPM may have rolled it back meanwhile.
 */
export const writerTask = new AsyncLocalStorage<{ readonly id: string; readonly fenced: boolean }>();

/** Called by every metadata writer right before it touches `path`. */
export function guardWrite(path: string, what: string): void {
  const task = writerTask.getStore();
  if (task?.fenced) throw new VdsmError("SpmStatusError", `task ${task.id} belongs to a lost SPM term: refusing ${what} of ${path}`);
  for (const z of zones) {
    if (z.prefixes.some((p) => path === p || path.startsWith(`${p}/`))) {
      z.guard(path, what);
      return;
    }
  }
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

// ---- audit log --------------------------------------------------------------------------------

/** Directory of the per-host audit logs inside the master domain's `master/`. */
export const AUDIT_DIR = "spm-audit";

export interface AuditEntry {
  /** ms since epoch when the write was allowed. */
  ts: number;
  host: number;
  lver: number;
  op: string;
  path: string;
}

/**
 * Append-only log of the SPM's metadata writes, one file per host (`master/spm-audit/host-<id>.log`)
 * so hosts never append to the same file (O_APPEND is not atomic across NFS clients).
 */
export class AuditLog {
  private fd: number | undefined;
  readonly path: string;

  constructor(
    masterDir: string,
    private readonly domainRoot: string,
    readonly hostID: number,
  ) {
    const dir = join(masterDir, AUDIT_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    this.path = join(dir, `host-${hostID}.log`);
  }

  /** One allowed write; `at` is when the guard allowed it (default: now). */
  record(lver: number, op: string, path: string, at = Date.now()): void {
    if (this.fd === undefined) this.fd = openSync(this.path, "a", 0o644);
    const rel = relative(this.domainRoot, path) || ".";
    writeSync(this.fd, `${at} host=${this.hostID} lver=${lver} op=${op.replace(/\s+/g, "_")} path=${rel}\n`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export function parseAudit(text: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9]+) host=([0-9]+) lver=(-?[0-9]+) op=(\S+) path=(\S+)$/.exec(line);
    if (m) out.push({ ts: Number(m[1]), host: Number(m[2]), lver: Number(m[3]), op: m[4]!, path: m[5]! });
  }
  return out;
}

/** Every host's audit entries of one master domain, oldest first. */
export function readAudit(masterDir: string): AuditEntry[] {
  const dir = join(masterDir, AUDIT_DIR);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^host-[0-9]+\.log$/.test(n));
  } catch {
    return [];
  }
  const all = names.flatMap((n) => parseAudit(readFileSync(join(dir, n), "utf8")));
  return all.sort((a, b) => a.ts - b.ts);
}
