/**
 * XML-RPC encoding and decoding (the spec at xmlrpc.com, as Python's xmlrpc.client speaks it).
 * Parsing is done by fast-xml-parser in order-preserving mode; this module only maps its tree to
 * JavaScript values and back. It never evaluates entities beyond XML's five predefined ones: a
 * document with a DOCTYPE (where entities would be declared) is refused, as is any document that
 * is not well-formed (unclosed or mismatched tags) or nested deeper than the protocol's bound.
 */
import { MAX_BODY_DEPTH, xmlDepth } from "@vela/protocol/limits";
import { XMLParser, XMLValidator } from "fast-xml-parser";

export type XmlRpcValue =
  | string
  | number
  | boolean
  | null
  | Date
  | Buffer
  | XmlRpcValue[]
  | { [k: string]: XmlRpcValue };

export class XmlRpcParseError extends Error {}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
});

function tagOf(n: Node): string | undefined {
  return Object.keys(n).find((k) => k !== ":@");
}

/** Element children of a node, skipping whitespace text. */
function elements(children: unknown): Node[] {
  if (!Array.isArray(children)) return [];
  return (children as Node[]).filter((c) => {
    const t = tagOf(c);
    return t !== undefined && t !== "#text" && t !== "?xml";
  });
}

function text(children: unknown): string {
  if (!Array.isArray(children)) return "";
  return (children as Node[]).map((c) => (typeof c["#text"] === "string" ? (c["#text"] as string) : String(c["#text"] ?? ""))).join("");
}

function child(children: unknown, name: string): Node | undefined {
  return elements(children).find((c) => tagOf(c) === name);
}

function decodeValue(valueChildren: unknown): XmlRpcValue {
  const typed = elements(valueChildren)[0];
  if (!typed) return text(valueChildren); // bare <value>text</value> is a string
  const tag = tagOf(typed)!;
  const inner = typed[tag];
  switch (tag) {
    case "string":
      return text(inner);
    case "int":
    case "i4":
    case "i8": {
      const s = text(inner).trim();
      if (!/^[-+]?[0-9]+$/.test(s)) throw new XmlRpcParseError(`bad <${tag}> ${s.slice(0, 40)}`);
      return Number(s);
    }
    case "double": {
      const n = Number(text(inner).trim());
      if (Number.isNaN(n)) throw new XmlRpcParseError("bad <double>");
      return n;
    }
    case "boolean": {
      const s = text(inner).trim();
      if (s !== "0" && s !== "1") throw new XmlRpcParseError("bad <boolean>");
      return s === "1";
    }
    case "nil":
      return null;
    case "dateTime.iso8601":
      return text(inner).trim();
    case "base64":
      return Buffer.from(text(inner).trim(), "base64");
    case "array":
      return elements(child(inner, "data")?.data).map((v) => {
        if (tagOf(v) !== "value") throw new XmlRpcParseError("<data> holds a non-<value>");
        return decodeValue(v.value);
      });
    case "struct": {
      const out: { [k: string]: XmlRpcValue } = Object.create(null);
      for (const m of elements(inner)) {
        if (tagOf(m) !== "member") throw new XmlRpcParseError("<struct> holds a non-<member>");
        const name = child(m.member, "name");
        const value = child(m.member, "value");
        if (!name || !value) throw new XmlRpcParseError("<member> without <name> or <value>");
        out[text(name.name)] = decodeValue(value.value);
      }
      return out;
    }
    default:
      throw new XmlRpcParseError(`unknown value type <${tag}>`);
  }
}

export interface MethodCall {
  method: string;
  params: XmlRpcValue[];
}

/** Refuses what no XML-RPC client sends: DTDs, malformed XML, absurd nesting. */
function checkDocument(xml: string): void {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlRpcParseError("DOCTYPE and entity declarations are not accepted");
  if (xmlDepth(xml) > MAX_BODY_DEPTH) throw new XmlRpcParseError(`elements nested deeper than ${MAX_BODY_DEPTH} levels`);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new XmlRpcParseError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
}

export function parseMethodCall(xml: string): MethodCall {
  checkDocument(xml);
  let tree: Node[];
  try {
    tree = parser.parse(xml) as Node[];
  } catch (err) {
    throw new XmlRpcParseError(`malformed XML: ${(err as Error).message}`);
  }
  const call = elements(tree).find((n) => tagOf(n) === "methodCall");
  if (!call) throw new XmlRpcParseError("no <methodCall>");
  const nameNode = child(call.methodCall, "methodName");
  const method = nameNode ? text(nameNode.methodName).trim() : "";
  if (!/^[A-Za-z_][A-Za-z0-9_.]{0,127}$/.test(method)) throw new XmlRpcParseError("bad <methodName>");
  const paramsNode = child(call.methodCall, "params");
  const params = elements(paramsNode?.params).map((pn) => {
    const v = child(pn.param, "value");
    if (tagOf(pn) !== "param" || !v) throw new XmlRpcParseError("bad <param>");
    return decodeValue(v.value);
  });
  return { method, params };
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function encodeValue(v: unknown): string {
  if (v === null || v === undefined) return "<value><nil/></value>";
  if (typeof v === "boolean") return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (typeof v === "number") {
    // XML-RPC ints are 32-bit; larger integers go as strings, as VDSM sent sizes.
    if (Number.isInteger(v)) return v >= -(2 ** 31) && v < 2 ** 31 ? `<value><int>${v}</int></value>` : `<value><string>${v}</string></value>`;
    return `<value><double>${v}</double></value>`;
  }
  if (typeof v === "bigint") return `<value><string>${v}</string></value>`;
  if (typeof v === "string") return `<value><string>${esc(v)}</string></value>`;
  if (v instanceof Date) return `<value><dateTime.iso8601>${v.toISOString()}</dateTime.iso8601></value>`;
  if (Buffer.isBuffer(v)) return `<value><base64>${v.toString("base64")}</base64></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeValue).join("")}</data></array></value>`;
  if (typeof v === "object") {
    const members = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `<member><name>${esc(k)}</name>${encodeValue(x)}</member>`)
      .join("");
    return `<value><struct>${members}</struct></value>`;
  }
  return `<value><string>${esc(String(v))}</string></value>`;
}

export function encodeResponse(value: unknown): string {
  return `<?xml version="1.0"?>\n<methodResponse><params><param>${encodeValue(value)}</param></params></methodResponse>\n`;
}

export function encodeFault(code: number, message: string): string {
  return `<?xml version="1.0"?>\n<methodResponse><fault>${encodeValue({ faultCode: code, faultString: message })}</fault></methodResponse>\n`;
}

/** Client side, for tests and tools: encode a call. */
export function encodeCall(method: string, params: readonly unknown[]): string {
  return `<?xml version="1.0"?>\n<methodCall><methodName>${esc(method)}</methodName><params>${params
    .map((p) => `<param>${encodeValue(p)}</param>`)
    .join("")}</params></methodCall>\n`;
}

/** Client side: decode a response; a <fault> becomes an XmlRpcFault. */
export class XmlRpcFault extends Error {
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
  ) {
    super(`XML-RPC fault ${faultCode}: ${faultString}`);
  }
}

export function parseMethodResponse(xml: string): XmlRpcValue {
  const tree = parser.parse(xml) as Node[];
  const resp = elements(tree).find((n) => tagOf(n) === "methodResponse");
  if (!resp) throw new XmlRpcParseError("no <methodResponse>");
  const fault = child(resp.methodResponse, "fault");
  if (fault) {
    const v = decodeValue(child(fault.fault, "value")?.value) as { faultCode?: number; faultString?: string };
    throw new XmlRpcFault(Number(v.faultCode), String(v.faultString));
  }
  const param = child(child(resp.methodResponse, "params")?.params, "param");
  const value = child(param?.param, "value");
  if (!value) throw new XmlRpcParseError("response without a value");
  return decodeValue(value.value);
}
