/**
 * Request bodies: XML (oVirt's default) and JSON, both turned into one plain tree where an
 * element's attributes and children are members and a repeated element is an array. XML is parsed
 * by fast-xml-parser, loaded on first use. Never expands DTDs or entities beyond XML's predefined
 * five: a body with a DOCTYPE is refused. Nesting is bounded before any parser sees the text (the
 * recursive steps overflowed the stack on ~8,000 levels: a 500 instead of a 400).
 */
import { createRequire } from "node:module";
import type * as Fxp from "fast-xml-parser";
import { jsonDepth, MAX_BODY_DEPTH, xmlDepth } from "@vela/protocol/limits";
import { ApiFault } from "../errors/fault.js";

export type Tree = { [k: string]: TreeValue };
export type TreeValue = string | number | boolean | null | Tree | TreeValue[];

export interface ParsedBody {
  /** XML: the root element's name; JSON: undefined (oVirt's JSON has no wrapper). */
  root?: string;
  value: Tree;
}

function malformed(kind: string, detail: string): ApiFault {
  return new ApiFault(400, "Bad Request", `Malformed ${kind} body: ${detail}`);
}

let fxp: typeof Fxp | undefined;
function loadFxp(): typeof Fxp {
  // The CommonJS build is one bundled file: much quicker to load than the ESM tree.
  fxp ??= createRequire(import.meta.url)("fast-xml-parser") as typeof Fxp;
  return fxp;
}

/** Empty elements come out as "", which stands for an empty object here. */
function normalise(v: unknown): TreeValue {
  if (v === "" || v === undefined) return {};
  if (Array.isArray(v)) return v.map(normalise);
  if (typeof v === "object" && v !== null) {
    const out: Tree = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "__proto__" || k === "constructor" || k === "prototype") continue;
      out[k] = normalise(x) as TreeValue;
    }
    return out;
  }
  return v as TreeValue;
}

export function parseXmlBody(text: string): ParsedBody {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw malformed("XML", "DOCTYPE and entity declarations are not accepted");
  if (xmlDepth(text) > MAX_BODY_DEPTH) throw malformed("XML", `elements nested deeper than ${MAX_BODY_DEPTH} levels`);
  const { XMLParser, XMLValidator } = loadFxp();
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw malformed("XML", `${valid.err.msg} (line ${valid.err.line})`);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    processEntities: true,
    htmlEntities: false,
  });
  let tree: Record<string, unknown>;
  try {
    tree = parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw malformed("XML", (err as Error).message);
  }
  const roots = Object.keys(tree).filter((k) => k !== "#text");
  if (roots.length !== 1) throw malformed("XML", "expected exactly one root element");
  const root = roots[0] as string;
  const value = normalise(tree[root]);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw malformed("XML", `<${root}> must contain elements, not text`);
  }
  return { root, value };
}

export function parseJsonBody(text: string): ParsedBody {
  if (text.trim() === "") return { value: {} };
  if (jsonDepth(text) > MAX_BODY_DEPTH) throw malformed("JSON", `nested deeper than ${MAX_BODY_DEPTH} levels`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw malformed("JSON", (err as Error).message);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw malformed("JSON", "the body must be a JSON object");
  return { value: normalise(v) as Tree };
}

/** Content sniffing for clients that send no (or a generic) Content-Type. */
export function parseAnyBody(text: string): ParsedBody | undefined {
  const t = text.trimStart();
  if (t === "") return undefined;
  if (t.startsWith("<")) return parseXmlBody(text);
  if (t.startsWith("{") || t.startsWith("[")) return parseJsonBody(text);
  throw new ApiFault(415, "Unsupported Media Type", "send application/xml or application/json");
}
