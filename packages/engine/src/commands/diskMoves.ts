/**
 * What CopyDisk and MoveDisk share: their action input (the target domain) and the plan that
 * checks the disk, its data center's SPM and the target. Template disks and disks of running
 * VMs are refused: Vela does no live storage operations yet.
 */
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { Bool, Name, parseInput, Ref } from "../input/input.js";
import { type DataCenter, type Disk, type Host } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { ensureNotInPreview, ensureUsable, poolOf, runningUsers } from "./chains.js";
import { activeDomain } from "./lookup.js";
import { byRef, mustById } from "../db/repo/entities.js";

export const ActionInput = z.object({
  storage_domain: Ref,
  disk: z.object({ name: Name.optional(), alias: Name.optional() }).optional(),
  async: Bool.optional(),
  filter: Bool.optional(),
});

export interface MovePlan {
  disk: Disk;
  dc: DataCenter;
  spm: Host;
  target: { id: string; name: string };
}

/** Common checks of copy and move: usable disk, no running VM, target active in the same pool. */
export async function plan(e: Engine, diskId: string, body: unknown, what: string): Promise<MovePlan & { p: z.output<typeof ActionInput> }> {
  const disk = await mustById(e, "disks", diskId);
  const p = parseInput(ActionInput, body, "action", what.split(" ")[0]);
  if (disk.template_id) throw conflict(`Cannot ${what}: disk ${disk.alias} belongs to a template`);
  ensureUsable(e, disk, what, true);
  const vm = (await runningUsers(e, disk.id))[0];
  if (vm) throw conflict(`Cannot ${what}: VM ${vm.name} using disk ${disk.alias} is ${vm.status}`);
  await ensureNotInPreview(e, `${what} ${disk.alias}`, { diskId: disk.id });
  const { dc, spm } = await poolOf(e, disk, what);
  const target = await byRef(e, "storage_domains", p.storage_domain);
  const tdc = await activeDomain(e, target, what);
  if (tdc.id !== dc.id) throw conflict(`Cannot ${what}: storage domain ${target.name} is in another data center`);
  return { disk, dc, spm, target, p };
}

/** Volume size on the node, for a progress estimate of a copy (0..100). */
export function copyProgress(e: Engine, spm: Host, dcId: string, sdId: string, img: string, vol: string, expected: number) {
  return async (): Promise<number | undefined> => {
    if (expected <= 0) return undefined;
    const r = await e.nodes.for(spm).call("getVolumeSize", { sdUUID: sdId, spUUID: dcId, imgUUID: img, volUUID: vol });
    const n = Number(r.truesize);
    return Number.isFinite(n) ? (100 * n) / expected : undefined;
  };
}
