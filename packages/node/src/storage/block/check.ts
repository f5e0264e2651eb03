/**
 * The on-disk checker for block storage domains, for tests and operators (check.ts is the file
 * domain one): the VG's domain tag and sealed MDT_ metadata, the special LVs in VDSM's sizes, and
 * for every volume LV its IU_/PU_/MD_ tags, one metadata slot of its own whose text agrees with
 * the tags, one segment (a data path without device-mapper can map nothing else), and images
 * that are trees on one base. LVs left by an interrupted create (OVIRT_VOL_INITIALIZING) or
 * delete (IU__remove_me_) are reported. Read-only: it never repairs.
 */
import { BLANK_UUID, UUID_RE } from "@vela/protocol";
import type { BlockDomain } from "../domain/block.js";
import { INITIALIZING_TAG, mdFromTags, REMOVED_IMAGE_PREFIX, SD_TAG, SD_UNREADY_TAG, SPECIAL_LVS } from "./vgtags.js";
import { domainChecksum, parseVolumeMd, type VolumeMd } from "../metadata.js";
import { MiB } from "./lvm.js";

const REQUIRED_KEYS = ["VERSION", "SDUUID", "TYPE", "ROLE", "DESCRIPTION", "CLASS", "POOL_UUID", "LEASETIMESEC", "LOCKRENEWALINTERVALSEC", "IOOPTIMEOUTSEC", "LEASERETRIES", "VGUUID"];

export interface BlockCheckReport {
  ok: boolean;
  problems: string[];
  volumes: { image: string; volume: string; slot: number; md: VolumeMd }[];
}

export async function checkBlockDomain(dom: BlockDomain): Promise<BlockCheckReport> {
  const problems: string[] = [];
  const sd = dom.sdUUID;
  const vg = await dom.lvm.vg(sd);
  if (!vg) return { ok: false, problems: [`VG ${sd}: missing`], volumes: [] };
  if (!vg.tags.includes(SD_TAG)) problems.push(`VG ${sd}: no ${SD_TAG} tag`);
  if (vg.tags.includes(SD_UNREADY_TAG)) problems.push(`VG ${sd}: still ${SD_UNREADY_TAG}`);
  const { md, checksum } = mdFromTags(vg.tags);
  if (checksum === undefined) problems.push("domain metadata: no MDT__SHA_CKSUM seal");
  else if (checksum !== domainChecksum(md)) problems.push(`domain metadata: seal ${checksum} but computed ${domainChecksum(md)}`);
  for (const k of REQUIRED_KEYS) if (!(k in md)) problems.push(`domain metadata: missing ${k}`);
  if (md.SDUUID !== undefined && md.SDUUID !== sd) problems.push(`domain metadata: SDUUID ${md.SDUUID} in VG ${sd}`);
  if (md.VGUUID !== undefined && md.VGUUID !== vg.uuid) problems.push(`domain metadata: VGUUID ${md.VGUUID}, VG is ${vg.uuid}`);
  if (md.TYPE !== undefined && md.TYPE !== "FCP" && md.TYPE !== "ISCSI") problems.push(`domain metadata: TYPE ${md.TYPE} on a VG`);

  const lvs = await dom.lvm.lvs(sd);
  for (const [name, mib] of SPECIAL_LVS) {
    const lv = lvs.find((l) => l.name === name);
    if (!lv) problems.push(`LV ${name}: missing`);
    else if (lv.size < mib * MiB) problems.push(`LV ${name}: ${lv.size} bytes, VDSM's layout needs ${mib * MiB}`);
    else if (lv.segments.length !== 1) problems.push(`LV ${name}: ${lv.segments.length} segments`);
  }
  const special = new Set(SPECIAL_LVS.map(([n]) => n));
  const slots = new Map<number, string>();
  const byImage = new Map<string, Map<string, { slot: number; md: VolumeMd; parentTag: string }>>();
  for (const lv of lvs) {
    if (special.has(lv.name)) continue;
    const where = `LV ${lv.name}`;
    if (!UUID_RE.test(lv.name)) {
      problems.push(`${where}: not a volume (unexpected LV)`);
      continue;
    }
    const tag = (p: string) => lv.tags.filter((t) => t.startsWith(p)).map((t) => t.slice(p.length));
    const [img, parent, slotText] = [tag("IU_"), tag("PU_"), tag("MD_")];
    if (lv.tags.includes(INITIALIZING_TAG)) problems.push(`${where}: ${INITIALIZING_TAG} (an interrupted create)`);
    if (img.length !== 1 || parent.length !== 1 || slotText.length !== 1) {
      problems.push(`${where}: needs one IU_, PU_ and MD_ tag each (${lv.tags.join(",")})`);
      continue;
    }
    if (img[0]!.startsWith(REMOVED_IMAGE_PREFIX)) {
      problems.push(`${where}: tagged IU_${img[0]} (an interrupted delete)`);
      continue;
    }
    if (lv.segments.length !== 1) problems.push(`${where}: ${lv.segments.length} segments (cannot be mapped without device-mapper)`);
    const slot = Number(slotText[0]);
    if (!Number.isInteger(slot) || slot < 0) {
      problems.push(`${where}: bad MD_ tag ${slotText[0]}`);
      continue;
    }
    const other = slots.get(slot);
    if (other) problems.push(`${where}: metadata slot ${slot} also claimed by ${other}`);
    slots.set(slot, lv.name);
    let vmd: VolumeMd;
    try {
      const text = (await dom.readSlot(slot)).toString("utf8").replace(/\0+$/, "");
      if (!text.endsWith("EOF\n")) throw new Error("no EOF line");
      vmd = parseVolumeMd(text);
    } catch (err) {
      problems.push(`${where}: slot ${slot}: ${(err as Error).message}`);
      continue;
    }
    if (vmd.IMAGE !== img[0] && vmd.VOLTYPE !== "SHARED") problems.push(`${where}: IU_${img[0]} but IMAGE=${vmd.IMAGE}`);
    if (vmd.PUUID !== parent[0]) problems.push(`${where}: PU_${parent[0]} but PUUID=${vmd.PUUID}`);
    if (vmd.DOMAIN !== sd) problems.push(`${where}: DOMAIN=${vmd.DOMAIN}`);
    if (vmd.LEGALITY !== "LEGAL") problems.push(`${where}: ${vmd.LEGALITY}`);
    if (vmd.FORMAT === "RAW" && vmd.TYPE === "SPARSE") problems.push(`${where}: RAW SPARSE is not allowed on block`);
    if (vmd.FORMAT === "RAW" && lv.size < vmd.CAP) problems.push(`${where}: RAW LV of ${lv.size} bytes for CAP=${vmd.CAP}`);
    const m = byImage.get(img[0]!) ?? new Map();
    m.set(lv.name, { slot, md: vmd, parentTag: parent[0]! });
    byImage.set(img[0]!, m);
  }
  const volumes: BlockCheckReport["volumes"] = [];
  for (const [img, vols] of byImage) {
    for (const [v, { md, slot }] of vols) {
      volumes.push({ image: img, volume: v, slot, md });
      if (md.PUUID !== BLANK_UUID && !vols.has(md.PUUID)) problems.push(`image ${img}/${v}: parent ${md.PUUID} missing from the image`);
      const kids = [...vols.values()].filter((k) => k.md.PUUID === v).length;
      if (md.VOLTYPE === "LEAF" && kids) problems.push(`image ${img}/${v}: LEAF with children`);
      if (md.VOLTYPE === "INTERNAL" && !kids) problems.push(`image ${img}/${v}: INTERNAL without children`);
    }
    const bases = [...vols.values()].filter((x) => x.md.VOLTYPE !== "SHARED" && (x.md.PUUID === BLANK_UUID || vols.get(x.md.PUUID)?.md.VOLTYPE === "SHARED"));
    const template = [...vols.values()].every((x) => x.md.VOLTYPE === "SHARED");
    if (!template && bases.length !== 1) problems.push(`image ${img}: ${bases.length} base volumes`);
  }
  return { ok: problems.length === 0, problems, volumes };
}
