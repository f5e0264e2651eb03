/**
 * oVirt v4 representations: one tree shape (`Rep`) rendered as XML or JSON the way the oVirt
 * engine renders them. XML: element per member, only `id`/`href` (and a link's `rel`) as
 * attributes, repeated elements for arrays, unset members omitted. JSON: the same tree, numbers
 * and booleans as strings, dates as epoch milliseconds, collections keyed by the singular name.
 * This module never decides content; resources build the trees.
 *
 * A tree made `sealed` is frozen and remembers its rendered XML (per element name) and JSON, so a
 * view kept across requests (view-cache.ts) is serialised once, not per request: a list of 10,000
 * VMs is then mostly the concatenation of remembered fragments.
 */
import { promisify } from "node:util";
import { gzip } from "node:zlib";

export type RepValue = string | number | boolean | Date | Rep | RepValue[] | null | undefined;
export interface Rep {
  [k: string]: RepValue;
}

const ATTRS = new Set(["id", "href"]);

/** Characters XML 1.0 cannot carry at all are dropped. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const INVALID_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

export function escText(s: string): string {
  return s.replace(INVALID_XML, "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function escAttr(s: string): string {
  return escText(s).replace(/"/g, "&quot;");
}

function scalar(v: string | number | boolean | Date): string {
  if (v instanceof Date) return isoWithOffset(v);
  return String(v);
}

/** oVirt writes dates as 2016-12-12T23:07:29.758+00:00 (explicit offset, not Z). */
export function isoWithOffset(d: Date): string {
  return d.toISOString().replace("Z", "+00:00");
}

function isRep(v: RepValue): v is Rep {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Rendered fragments of sealed trees (frozen, so they cannot go stale). */
interface Rendered {
  xmlName?: string;
  xml?: string;
  json?: string;
  /** The whole JSON answer, gzip-compressed (kept lists: compressed once, not per request). */
  jsonGz?: Promise<Buffer>;
  /** Root element name of `xmlDoc`. */
  docName?: string;
  /** The whole XML document (declaration and all), when the tree is an answer's root: a kept list. */
  xmlDoc?: string;
  /** `xmlDoc`, gzip-compressed. */
  xmlGz?: Promise<Buffer>;
}
const rendered = new WeakMap<Rep, Rendered>();

function deepFreeze(v: RepValue): void {
  if (typeof v !== "object" || v === null || v instanceof Date || Object.isFrozen(v)) return;
  Object.freeze(v);
  for (const x of Array.isArray(v) ? v : Object.values(v)) deepFreeze(x);
}

/**
 * Freezes a tree and lets its renderings be remembered. Whoever changes a sealed tree must copy
 * it first (`{...rep}`; follow.ts does): writing to it throws.
 */
export function sealed(rep: Rep): Rep {
  deepFreeze(rep);
  rendered.set(rep, {});
  return rep;
}

/** Copies of sealed trees (copyOf) and the tree each was copied from. */
const copiedFrom = new WeakMap<Rep, Rep>();

/**
 * A writable shallow copy of a tree. A copy of a sealed tree that only gains members (follow=
 * puts linked objects in) renders as the original's remembered text with those members added.
 */
export function copyOf(rep: Rep): Rep {
  const c = { ...rep };
  if (rendered.has(rep)) copiedFrom.set(c, rep);
  return c;
}

/** The members a copy added to its sealed original, if it changed nothing else (else undefined). */
function added(v: Rep): { orig: Rep; memo: Rendered; extra: [string, RepValue][] } | undefined {
  const orig = copiedFrom.get(v);
  const memo = orig ? rendered.get(orig) : undefined;
  if (!orig || !memo) return undefined;
  const keys = Object.keys(orig);
  const all = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (all[i] !== k || v[k] !== orig[k]) return undefined;
  }
  return { orig, memo, extra: all.slice(keys.length).map((k) => [k, v[k]]) };
}

function remembered(name: string, v: Rep, memo: Rendered): string {
  if (memo.xmlName !== name || memo.xml === undefined) {
    const part: string[] = [];
    xmlObject(name, v, part);
    memo.xmlName = name;
    memo.xml = part.join("");
  }
  return memo.xml;
}

function xmlElement(name: string, v: RepValue, out: string[]): void {
  if (v === undefined || v === null) return;
  if (Array.isArray(v)) {
    for (const item of v) xmlElement(name, item, out);
    return;
  }
  if (!isRep(v)) {
    out.push(`<${name}>${escText(scalar(v))}</${name}>`);
    return;
  }
  const memo = rendered.get(v);
  if (memo) {
    out.push(remembered(name, v, memo));
    return;
  }
  const grown = added(v);
  if (grown) {
    const base = remembered(name, grown.orig, grown.memo);
    const more: string[] = [];
    for (const [k, x] of grown.extra) xmlElement(k, x, more);
    if (!more.length) out.push(base);
    else if (base.endsWith("/>")) out.push(`${base.slice(0, -2)}>`, ...more, `</${name}>`);
    else out.push(base.slice(0, base.length - name.length - 3), ...more, `</${name}>`);
    return;
  }
  xmlObject(name, v, out);
}

function xmlObject(name: string, v: Rep, out: string[]): void {
  let open = `<${name}`;
  const children: [string, RepValue][] = [];
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined || x === null) continue;
    if ((ATTRS.has(k) || (name === "link" && k === "rel")) && !isRep(x) && !Array.isArray(x)) open += ` ${k}="${escAttr(scalar(x))}"`;
    else children.push([k, x]);
  }
  if (children.length === 0) {
    out.push(`${open}/>`);
    return;
  }
  out.push(`${open}>`);
  for (const [k, x] of children) xmlElement(k, x, out);
  out.push(`</${name}>`);
}

const XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';

export function toXml(root: string, rep: Rep): string {
  const memo = rendered.get(rep);
  if (memo && memo.docName === root && memo.xmlDoc !== undefined) return memo.xmlDoc;
  const out: string[] = [XML_DECL];
  // a sealed root is written from its members' remembered text and kept whole (not also as an element)
  if (memo) xmlObject(root, rep, out);
  else xmlElement(root, rep, out);
  out.push("\n");
  const doc = out.join("");
  if (memo) {
    memo.docName = root;
    memo.xmlDoc = doc;
    memo.xmlGz = undefined;
  }
  return doc;
}

function jsonValue(v: RepValue): unknown {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Date) return v.getTime();
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.map(jsonValue).filter((x) => x !== undefined);
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const j = jsonValue(x);
    if (j !== undefined) o[k] = j;
  }
  return o;
}

/** A sealed tree's JSON, rendered once (from its members' remembered text when it holds sealed trees: a kept list). */
function sealedJson(v: Rep, memo: Rendered): string {
  memo.json ??= Object.values(v).some((x) => holdsSealed(x, 1)) ? piecewiseJson(v, 0) : JSON.stringify(jsonValue(v));
  return memo.json;
}

/** Does the tree hold a sealed tree anywhere (then it is written piecewise, reusing fragments)? */
function holdsSealed(v: RepValue, depth: number): boolean {
  if (typeof v !== "object" || v === null || v instanceof Date || depth > 3) return false;
  if (Array.isArray(v)) return v.some((x) => holdsSealed(x, depth + 1));
  if (rendered.has(v) || copiedFrom.has(v)) return true;
  return Object.values(v).some((x) => holdsSealed(x, depth + 1));
}

/** JSON text of a tree, each sealed subtree by its remembered fragment (same text as JSON.stringify(jsonValue(v))). */
function jsonText(v: RepValue, depth: number): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || v instanceof Date) return JSON.stringify(jsonValue(v));
  const memo = isRep(v) ? rendered.get(v) : undefined;
  if (memo) return sealedJson(v as Rep, memo);
  const grown = isRep(v) ? added(v) : undefined;
  if (grown) {
    const base = sealedJson(grown.orig, grown.memo);
    const more: string[] = [];
    for (const [k, x] of grown.extra) {
      const t = jsonText(x, depth + 1);
      if (t !== undefined) more.push(`${JSON.stringify(k)}:${t}`);
    }
    if (!more.length) return base;
    return base === "{}" ? `{${more.join(",")}}` : `${base.slice(0, -1)},${more.join(",")}}`;
  }
  if (!holdsSealed(v, depth)) return JSON.stringify(jsonValue(v));
  return piecewiseJson(v, depth);
}

/** JSON text of an array or object, member by member (each sealed one by its remembered text). */
function piecewiseJson(v: Rep | RepValue[], depth: number): string {
  if (Array.isArray(v)) {
    const parts: string[] = [];
    for (const x of v) {
      const t = jsonText(x, depth + 1);
      if (t !== undefined) parts.push(t);
    }
    return `[${parts.join(",")}]`;
  }
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    const t = jsonText(x, depth + 1);
    if (t !== undefined) parts.push(`${JSON.stringify(k)}:${t}`);
  }
  return `{${parts.join(",")}}`;
}

export function toJson(rep: Rep): string {
  return jsonText(rep, 0) ?? "{}";
}

/**
 * The whole answer of a sealed tree (a kept list), gzip-compressed once and remembered with its
 * text; undefined for any other tree (compressing a one-off answer per request costs more CPU on
 * this engine than it saves on the wire to a local client). Compressed off the event loop.
 */
export function keptGzip(rep: Rep, format: { json: true } | { json: false; root: string }): Promise<Buffer> | undefined {
  const memo = rendered.get(rep);
  if (!memo) return undefined;
  if (format.json) {
    memo.jsonGz ??= gzipOf(toJson(rep));
    return memo.jsonGz;
  }
  const text = toXml(format.root, rep); // kept under this name (another name clears xmlGz)
  memo.xmlGz ??= gzipOf(text);
  return memo.xmlGz;
}

function gzipOf(text: string): Promise<Buffer> {
  // level 1: ~29 MB of repetitive text shrinks ~20× at a fraction of the default level's CPU
  return promisify(gzip)(text, { level: 1 });
}

/** A collection: XML `<vms><vm/>…</vms>`, JSON `{"vm": […]}`. */
export function collection(item: string, reps: Rep[]): Rep {
  return { [item]: reps };
}
