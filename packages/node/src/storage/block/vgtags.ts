/**
 * A block domain's layout names and its VG-tag metadata, in VDSM's spelling: the tags that mark a
 * VG as a domain, the special LVs and their sizes, volume metadata slots, and the `MDT_` tags
 * that carry the domain metadata (sealed by `MDT__SHA_CKSUM`). Shared by the domain driver, the
 * on-disk checker and the block verbs.
 */
import { VdsmError } from "@vela/protocol";
import { CHECKSUM_KEY, domainChecksum, type Md } from "../metadata.js";
import { decodeTag, encodeTag, MiB } from "./lvm.js";

export const SD_TAG = "RHAT_storage_domain";
export const SD_UNREADY_TAG = "RHAT_storage_domain_UNREADY";
export const MDT_PREFIX = "MDT_";
export const REMOVED_IMAGE_PREFIX = "_remove_me_";
export const INITIALIZING_TAG = "OVIRT_VOL_INITIALIZING";
/** Volume metadata slots: 8 KiB each from 1 MiB into the `metadata` LV, 512 bytes used. */
export const SLOT_BASE = MiB;
export const SLOT_SIZE = 8192;
/** Special LVs in VDSM's sizes (MiB), in the order the driver lays them out from extent 0. */
export const SPECIAL_LVS: readonly [string, number][] = [
  ["metadata", 128],
  ["ids", 8],
  ["inbox", 16],
  ["outbox", 16],
  ["leases", 2048],
  ["xleases", 1024],
  ["master", 1024],
];

export function extentsFor(bytes: number, extentSize: number): number {
  return Math.max(1, Math.ceil(bytes / extentSize));
}

/** VG tags → domain metadata (without verifying the seal). */
export function mdFromTags(tags: string[]): { md: Md; checksum?: string } {
  const md: Md = {};
  let checksum: string | undefined;
  for (const t of tags) {
    if (!t.startsWith(MDT_PREFIX)) continue;
    const kv = decodeTag(t.slice(MDT_PREFIX.length));
    const i = kv.indexOf("=");
    if (i < 0) continue;
    const k = kv.slice(0, i);
    if (k === CHECKSUM_KEY) checksum = kv.slice(i + 1);
    else md[k] = kv.slice(i + 1);
  }
  return { md, checksum };
}

/** Domain metadata → VG tags, seal last. */
export function tagsFromMd(md: Md): string[] {
  const clean: Md = {};
  for (const [k, v] of Object.entries(md)) {
    if (k === CHECKSUM_KEY) continue;
    if (!/^[A-Za-z0-9_]+$/.test(k) || /[\n\r\0]/.test(v)) throw new VdsmError("MetaDataKeyError", `bad metadata ${k}`);
    clean[k] = v;
  }
  const keys = Object.keys(clean).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [...keys.map((k) => `${MDT_PREFIX}${encodeTag(`${k}=${clean[k]}`)}`), `${MDT_PREFIX}${CHECKSUM_KEY}=${domainChecksum(clean)}`];
}
