/**
 * Where block-domain LVs go on the PV: every LV is one segment on extents the driver chooses, and
 * a volume gets room after it to grow in place (a data path without device-mapper maps one range).
 */
import type { LvInfo, Lvm } from "./lvm.js";

/** Fixed special LV names (they never grow). */
const SPECIAL = new Set(["metadata", "ids", "inbox", "outbox", "leases", "xleases", "master"]);

/**
 * Where a new LV of `count` extents goes: in the largest free gap that fits; at its start when
 * the extent before the gap is a special LV (it never grows), else halfway through it, so the
 * volume before the gap keeps room to grow in place (an LV mapped without device-mapper must stay
 * one segment). Undefined when no gap fits.
 */
export function freeRun(lvs: LvInfo[], extentCount: number, count: number): number | undefined {
  const used = lvs.flatMap((l) => l.segments.map((s) => ({ first: s.first, last: s.last, grows: !SPECIAL.has(l.name) }))).sort((a, b) => a.first - b.first);
  const gaps: { start: number; len: number; afterVolume: boolean }[] = [];
  let at = 0;
  let afterVolume = false;
  for (const u of used) {
    if (u.first > at) gaps.push({ start: at, len: u.first - at, afterVolume });
    if (u.last + 1 > at) {
      at = u.last + 1;
      afterVolume = u.grows;
    }
  }
  if (extentCount > at) gaps.push({ start: at, len: extentCount - at, afterVolume });
  const fit = gaps.filter((g) => g.len >= count).sort((a, b) => b.len - a.len || a.start - b.start)[0];
  if (!fit) return undefined;
  return fit.afterVolume ? fit.start + Math.floor((fit.len - count) / 2) : fit.start;
}

export async function zeroRange(lvm: Lvm, pv: string, offset: number, length: number): Promise<void> {
  void lvm;
  const { run } = await import("../../exec.js");
  await run(["blkdiscard", "--zeroout", "--offset", String(offset), "--length", String(length), pv], { timeoutMs: 120_000 });
}

