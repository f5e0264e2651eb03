/**
 * oVirt v4 representations: one tree shape (`Rep`) rendered as XML or JSON the way the oVirt
 * engine renders them. XML: element per member, only `id`/`href` (and a link's `rel`) as
 * attributes, repeated elements for arrays, unset members omitted. JSON: the same tree, numbers
 * and booleans as strings, dates as epoch milliseconds, collections keyed by the singular name.
 * This module never decides content; resources build the trees.
 */
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

export function toXml(root: string, rep: Rep): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'];
  xmlElement(root, rep, out);
  out.push("\n");
  return out.join("");
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

export function toJson(rep: Rep): string {
  return JSON.stringify(jsonValue(rep));
}

/** A collection: XML `<vms><vm/>…</vms>`, JSON `{"vm": […]}`. */
export function collection(item: string, reps: Rep[]): Rep {
  return { [item]: reps };
}
