/**
 * Independent readers of VDSM's on-disk format for the integration tests (written from
 * storage-format.md, not shared with the node's code, so a bug in one is caught by the other),
 * re-exporting the harness helper that prepares a local pool on a node through its verbs.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BLANK_UUID as BLANK } from "@vela/protocol/ids";
export { BLANK };
export { type LocalPool, setupLocalPool, waitTaskXml } from "@vela/node/test/harness";

/** Parses `KEY=VALUE` lines; returns keys and the verified-or-not checksum. */
export function parseDomainMetadata(text: string): { keys: Record<string, string>; checksum?: string; computed: string } {
  const keys: Record<string, string> = {};
  let checksum: string | undefined;
  for (const line of text.replace(/\0+$/, "").split("\n")) {
    if (!line.trim()) continue;
    const i = line.indexOf("=");
    if (i < 0) throw new Error(`metadata line without '=': ${line}`);
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (k === "_SHA_CKSUM") checksum = v;
    else keys[k] = v;
  }
  return { keys, checksum, computed: domainChecksum(keys) };
}

/** SHA-1 over KEY=VALUE strings sorted by key, non-ASCII as XML character references. */
export function domainChecksum(keys: Record<string, string>): string {
  const h = createHash("sha1");
  for (const k of Object.keys(keys).sort()) {
    const line = `${k}=${keys[k]}`;
    h.update(line.replace(/[\u0080-\u{10ffff}]/gu, (c) => `&#${c.codePointAt(0)};`), "ascii");
  }
  return h.digest("hex");
}

/** Parses a volume .meta: sorted KEY=VALUE lines ending with EOF, at most 512 bytes. */
export function parseVolumeMeta(text: string): Record<string, string> {
  if (Buffer.byteLength(text) > 512) throw new Error(`volume metadata is ${Buffer.byteLength(text)} bytes (> 512)`);
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  const eof = lines.indexOf("EOF");
  if (eof < 0) throw new Error("volume metadata has no EOF line");
  const body = lines.slice(0, eof);
  const ks = body.map((l) => l.slice(0, l.indexOf("=")));
  if (ks.join("\n") !== [...ks].sort().join("\n")) throw new Error("volume metadata keys are not sorted");
  for (const l of body) out[l.slice(0, l.indexOf("="))] = l.slice(l.indexOf("=") + 1);
  return out;
}

export interface QemuImgInfo {
  format: string;
  "virtual-size": number;
  "actual-size": number;
  filename: string;
  "backing-filename"?: string;
}

export function qemuImgInfo(path: string): QemuImgInfo {
  return JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path], { encoding: "utf8" })) as QemuImgInfo;
}

export function readDomainMetadata(domainDir: string) {
  return parseDomainMetadata(readFileSync(join(domainDir, "dom_md/metadata"), "latin1"));
}
