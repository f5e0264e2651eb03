/**
 * VDSM's metadata text formats, as pure functions: domain metadata (`dom_md/metadata`, sorted
 * KEY=VALUE lines sealed by `_SHA_CKSUM`) and volume metadata (`<vol>.meta`, sorted KEY=VALUE lines
 * ending with `EOF`, at most 512 bytes). No I/O here; never accepts a value that would break the
 * line format (newline or NUL), since that would let one key forge another.
 */
import { createHash } from "node:crypto";
import { VdsmError } from "@vela/protocol";

export type Md = Record<string, string>;

export const CHECKSUM_KEY = "_SHA_CKSUM";
export const VOLUME_MD_MAX = 512;

/** Python's sorted() on str keys: codepoint order (not localeCompare). */
function sortedKeys(md: Md): string[] {
  return Object.keys(md).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function checkValue(key: string, value: string): void {
  if (!/^[A-Za-z0-9_]+$/.test(key)) throw new VdsmError("MetaDataKeyError", `bad key ${JSON.stringify(key)}`);
  if (/[\n\r\0]/.test(value)) throw new VdsmError("InvalidParameter", `metadata value of ${key} has a line break or NUL`);
}

/** SHA-1 of the KEY=VALUE strings (no newlines) sorted by key, non-ASCII as XML char refs. */
export function domainChecksum(md: Md): string {
  const h = createHash("sha1");
  for (const k of sortedKeys(md)) {
    if (k === CHECKSUM_KEY) continue;
    const line = `${k}=${md[k]}`.replace(/[\u0080-\u{10ffff}]/gu, (c) => `&#${c.codePointAt(0)};`);
    h.update(line, "latin1");
  }
  return h.digest("hex");
}

/** Domain metadata text: sorted lines, then the seal. */
export function formatDomainMd(md: Md): string {
  const lines: string[] = [];
  const clean: Md = {};
  for (const k of sortedKeys(md)) {
    if (k === CHECKSUM_KEY) continue;
    checkValue(k, md[k]);
    clean[k] = md[k];
    lines.push(`${k}=${md[k]}\n`);
  }
  lines.push(`${CHECKSUM_KEY}=${domainChecksum(clean)}\n`);
  return lines.join("");
}

export interface ParsedDomainMd {
  md: Md;
  /** The stored seal, if any (a missing seal is trusted, as VDSM does). */
  checksum?: string;
}

/**
 * Parses domain metadata, stripping trailing NULs (a direct-I/O read of a padded block) and
 * verifying the seal. A wrong seal is refused: the metadata was torn or tampered with.
 */
export function parseDomainMd(text: string, what = "domain metadata"): ParsedDomainMd {
  const md: Md = {};
  let checksum: string | undefined;
  for (const raw of text.replace(/\0+$/, "").split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf("=");
    if (i < 0) continue; // VDSM skips lines without '='
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (k === CHECKSUM_KEY) checksum = v;
    else md[k] = v;
  }
  if (checksum !== undefined && checksum !== domainChecksum(md)) {
    throw new VdsmError("MetaDataSealIsBroken", `${what}: stored ${checksum}, computed ${domainChecksum(md)}`);
  }
  return { md, checksum };
}

/** Volume metadata keys (v5). */
export interface VolumeMd {
  CAP: number;
  CTIME: number;
  DESCRIPTION: string;
  DISKTYPE: string;
  DOMAIN: string;
  FORMAT: "COW" | "RAW";
  GEN: number;
  IMAGE: string;
  LEGALITY: "LEGAL" | "ILLEGAL" | "FAKE";
  PUUID: string;
  SEQ: number;
  TYPE: "PREALLOCATED" | "SPARSE";
  VOLTYPE: "LEAF" | "INTERNAL" | "SHARED";
}

/** `<vol>.meta` text for a v5 domain; refuses anything over 512 bytes. */
export function formatVolumeMd(v: VolumeMd): string {
  const md: Md = {
    CAP: String(v.CAP),
    CTIME: String(v.CTIME),
    DESCRIPTION: v.DESCRIPTION,
    DISKTYPE: v.DISKTYPE,
    DOMAIN: v.DOMAIN,
    FORMAT: v.FORMAT,
    GEN: String(v.GEN),
    IMAGE: v.IMAGE,
    LEGALITY: v.LEGALITY,
    PUUID: v.PUUID,
    SEQ: String(v.SEQ),
    TYPE: v.TYPE,
    VOLTYPE: v.VOLTYPE,
  };
  let out = "";
  for (const k of sortedKeys(md)) {
    checkValue(k, md[k]);
    out += `${k}=${md[k]}\n`;
  }
  out += "EOF\n";
  if (Buffer.byteLength(out, "utf8") > VOLUME_MD_MAX) {
    throw new VdsmError("MetadataOverflowError", `volume metadata is ${Buffer.byteLength(out)} bytes`);
  }
  return out;
}

const FORMATS = new Set(["COW", "RAW"]);
const TYPES = new Set(["PREALLOCATED", "SPARSE"]);
const VOLTYPES = new Set(["LEAF", "INTERNAL", "SHARED"]);
const LEGALITIES = new Set(["LEGAL", "ILLEGAL", "FAKE"]);

/** Parses `<vol>.meta`: stops at EOF, strips, missing GEN/SEQ are 0, old SIZE (sectors) → CAP. */
export function parseVolumeMd(text: string, what = "volume metadata"): VolumeMd {
  const md: Md = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("EOF")) break;
    const i = line.indexOf("=");
    if (i < 0) continue;
    md[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  if ("NONE" in md) throw new VdsmError("MetadataCleared", what);
  const bad = (k: string) => new VdsmError("VolumeMetadataReadError", `${what}: bad or missing ${k}`);
  const int = (k: string, dflt?: number) => {
    const s = md[k];
    if (s === undefined && dflt !== undefined) return dflt;
    if (s === undefined || !/^-?[0-9]+$/.test(s)) throw bad(k);
    return Number(s);
  };
  const cap = md.CAP !== undefined ? int("CAP") : int("SIZE") * 512;
  const pick = <T extends string>(k: string, set: Set<string>): T => {
    if (!set.has(md[k] ?? "")) throw bad(k);
    return md[k] as T;
  };
  return {
    CAP: cap,
    CTIME: int("CTIME", 0),
    DESCRIPTION: md.DESCRIPTION ?? "",
    DISKTYPE: md.DISKTYPE ?? "DATA",
    DOMAIN: md.DOMAIN ?? "",
    FORMAT: pick("FORMAT", FORMATS),
    GEN: int("GEN", 0),
    IMAGE: md.IMAGE ?? "",
    LEGALITY: pick("LEGALITY", LEGALITIES),
    PUUID: md.PUUID ?? "",
    SEQ: int("SEQ", 0),
    TYPE: pick("TYPE", TYPES),
    VOLTYPE: pick("VOLTYPE", VOLTYPES),
  };
}

/**
 * The metadata every new domain starts with, file or block (VDSM's keys and defaults: a regular
 * domain in no pool, sanlock-style lease timings); each kind adds its own keys after these.
 */
export function newDomainMd(a: { version: number; sdUUID: string; type: string; domClass: string; name: string }): Md {
  return {
    VERSION: String(a.version),
    SDUUID: a.sdUUID,
    TYPE: a.type,
    CLASS: a.domClass,
    DESCRIPTION: a.name,
    ROLE: "Regular",
    POOL_UUID: "",
    LOCKPOLICY: "",
    LOCKRENEWALINTERVALSEC: "5",
    LEASETIMESEC: "60",
    IOOPTIMEOUTSEC: "10",
    LEASERETRIES: "3",
  };
}
