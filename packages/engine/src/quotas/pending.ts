/**
 * Consumption granted but not yet in the rows. Between a command's quota check (in its
 * validation) and the write that makes the consumption count (a VM's status, a disk's row, size
 * or quota), another check on the same quota must see it, or two starts at once could both pass
 * a limit that has room for one. A grant is kept while the command that got it holds its lock
 * (`vm:<id>`, `disk:<id>`), or until the disks it adds exist; two minutes at most, should a
 * command fail before writing them. Checks on one quota run one at a time, so a check and its
 * grant are one step.
 */
import type { Engine } from "../engine.js";

export interface Grant {
  quotaId: string;
  clusterId?: string;
  vcpus?: number;
  memMiB?: number;
  /** Bytes per storage domain. */
  bytes?: Map<string, number>;
  /** Kept while this lock is held, or until these disks exist. */
  until: { lock: string } | { disks: string[] };
}

interface Kept extends Grant {
  at: number;
}

const MAX_AGE_MS = 120_000;

const state = new WeakMap<Engine, { grants: Kept[]; chains: Map<string, Promise<unknown>> }>();

function of(e: Engine) {
  let s = state.get(e);
  if (!s) {
    s = { grants: [], chains: new Map() };
    state.set(e, s);
  }
  return s;
}

/** Runs fn after every earlier fn of the same quota has ended. */
export function serially<T>(e: Engine, quotaId: string, fn: () => Promise<T>): Promise<T> {
  const s = of(e);
  const prev = s.chains.get(quotaId) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  s.chains.set(quotaId, tail);
  void tail.then(() => {
    if (s.chains.get(quotaId) === tail) s.chains.delete(quotaId);
  });
  return run;
}

async function settled(e: Engine, g: Kept): Promise<boolean> {
  if (Date.now() - g.at > MAX_AGE_MS) return true;
  if ("lock" in g.until) return !e.locks.isHeld(g.until.lock);
  if (!g.until.disks.length) return true;
  const found = await e.db.selectFrom("disks").select("id").where("id", "in", g.until.disks).execute();
  return found.length === g.until.disks.length;
}

/** The quota's grants not yet in the rows (settled ones are dropped). */
export async function pendingOf(e: Engine, quotaId: string): Promise<Grant[]> {
  const s = of(e);
  const done = new Set<Kept>();
  for (const g of [...s.grants]) if (await settled(e, g)) done.add(g);
  // grants made while this looked stay
  s.grants = s.grants.filter((g) => !done.has(g));
  return s.grants.filter((g) => g.quotaId === quotaId);
}

export function grant(e: Engine, g: Grant): void {
  of(e).grants.push({ ...g, at: Date.now() });
}
