/**
 * Growing a block volume's LV in place (thin extensions and resizes), apart from the domain class:
 * one segment stays one segment, so every data path can map it. Where the time went is measured
 * for the SPM's log line and the benches.
 */
import { VdsmError } from "@vela/protocol";
import type { BlockDomain } from "../domain/block.js";
import { edits } from "./vgview.js";
import { extentsFor } from "./vgtags.js";

/** Where the SPM's handling of one thin extension went (ms), for its log line and the benches. */
export interface GrowTimes {
  lockMs?: number;
  slotMs?: number;
  viewMs?: number;
  lvextendMs?: number;
  refreshMs?: number;
}

export function ms(a: number, b: number): number {
  return Number((b - a).toFixed(1));
}

/**
 * Grows a volume's LV in place to at least `bytes`, the caller holding the domain's slot lock:
 * the VG as on disk now, then lvextend onto the extents right after its last one, then the
 * device refreshed here. Refuses a grow onto another LV's extents or past the PV's end.
 */
export async function growInPlace(d: BlockDomain, volUUID: string, bytes: number, times?: GrowTimes): Promise<number> {
  const t0 = performance.now();
  const s = await d.snapshot();
  const vg = s.vg;
  const want = extentsFor(bytes, vg.extentSize);
  const r = await d.range(volUUID, s);
  if (want <= r.count) return r.count * r.extentSize;
  const from = r.first + r.count;
  const to = r.first + want - 1;
  if (to >= vg.extentCount) throw new VdsmError("VolumeGroupSizeError", `${d.sdUUID}/${volUUID}: growing to ${want} extents passes the end of the PV (${vg.freeCount} extents free in the VG)`);
  const blocker = s.lvs.find((l) => l.name !== volUUID && l.segments.some((sg) => sg.first <= to && sg.last >= from));
  if (blocker) {
    if (vg.freeCount < want - r.count) throw new VdsmError("VolumeGroupSizeError", `${d.sdUUID}/${volUUID}: the VG has ${vg.freeCount} free extents, ${want - r.count} needed`);
    throw new VdsmError("LogicalVolumeExtendError", `${d.sdUUID}/${volUUID} cannot grow in place: extents ${from}-${to} hold ${blocker.name}`);
  }
  const t1 = performance.now();
  await d.view.change(
    (only) => d.lvm.lvextend(d.sdUUID, volUUID, r.pv, want, from, to, only),
    (v) => edits.extend(v, volUUID, want),
  );
  const t2 = performance.now();
  const grown = { ...r, count: want };
  await d.env.dataPath.refresh(d.sdUUID, volUUID, grown);
  if (times) Object.assign(times, { viewMs: ms(t0, t1), lvextendMs: ms(t1, t2), refreshMs: ms(t2, performance.now()) });
  return want * vg.extentSize;
}
