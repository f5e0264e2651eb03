/**
 * A small subset of oVirt's search language for `?search=`: `field=value` terms joined by `and`,
 * `*` wildcards, `!=`, optional `sortby <field> [asc|desc]`; plus `max`. Applied to rows already
 * loaded (collections here are small). A field the resource does not know is a 400, as in oVirt.
 */
import { ApiFault } from "./fault.js";

export type Fields<R> = Record<string, (row: R) => string | number | null | undefined>;

interface Term {
  field: string;
  op: "=" | "!=";
  re: RegExp;
}

function wildcard(value: string, caseSensitive: boolean): RegExp {
  const body = value.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${body}$`, caseSensitive ? "" : "i");
}

function parse<R>(search: string, fields: Fields<R>, caseSensitive: boolean): { terms: Term[]; sort?: { field: string; desc: boolean } } {
  let text = search.trim();
  let sort: { field: string; desc: boolean } | undefined;
  const m = /\s*sortby\s+([a-z_.]+)(\s+(asc|desc))?\s*$/i.exec(text);
  if (m) {
    const field = (m[1] ?? "").toLowerCase();
    if (!fields[field]) throw new ApiFault(400, "Operation Failed", `Search: cannot sort by unknown field '${field}'`);
    sort = { field, desc: (m[3] ?? "").toLowerCase() === "desc" };
    text = text.slice(0, m.index);
  }
  text = text.replace(/\s*page\s+[0-9]+\s*$/i, "");
  const terms: Term[] = [];
  if (text.trim() === "") return { terms, sort };
  for (const part of text.split(/\s+and\s+/i)) {
    const t = /^\s*([a-z_.]+)\s*(!=|=)\s*(?:"([^"]*)"|(\S*))\s*$/i.exec(part);
    if (!t) throw new ApiFault(400, "Operation Failed", `Search: cannot parse '${part.slice(0, 80)}'`);
    const field = (t[1] ?? "").toLowerCase();
    if (!fields[field]) throw new ApiFault(400, "Operation Failed", `Search: unknown field '${field}'`);
    terms.push({ field, op: t[2] as "=" | "!=", re: wildcard(t[3] ?? t[4] ?? "", caseSensitive) });
  }
  return { terms, sort };
}

export function applySearch<R>(rows: R[], query: Record<string, string>, fields: Fields<R>): R[] {
  let out = rows;
  if (query.search) {
    const caseSensitive = (query.case_sensitive ?? "true").toLowerCase() !== "false";
    const { terms, sort } = parse(query.search, fields, caseSensitive);
    out = out.filter((r) =>
      terms.every((t) => {
        const get = fields[t.field];
        const v = get ? String(get(r) ?? "") : "";
        return t.op === "=" ? t.re.test(v) : !t.re.test(v);
      }),
    );
    if (sort) {
      const get = fields[sort.field];
      if (get) {
        out = [...out].sort((a, b) => {
          const x = get(a) ?? "";
          const y = get(b) ?? "";
          const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return sort.desc ? -c : c;
        });
      }
    }
  }
  if (query.max !== undefined) {
    const max = Number(query.max);
    if (!Number.isInteger(max) || max < -1) throw new ApiFault(400, "Operation Failed", `Invalid max '${query.max.slice(0, 20)}'`);
    if (max >= 0) out = out.slice(0, max);
  }
  return out;
}
