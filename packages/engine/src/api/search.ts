/**
 * A small subset of oVirt's search language for `?search=`: `field=value` terms joined by `and`,
 * `*` wildcards, `!=`, optional `sortby <field> [asc|desc]`; plus `max`. Applied to rows already
 * loaded (collections here are small). A field the resource does not know is a 400, as in oVirt.
 * Wildcards are matched without regular expressions (a pattern built from user input backtracks
 * exponentially: seven `*` took seconds and blocked the event loop), in time linear in
 * pattern × value, and the query text is bounded.
 */
import { ApiFault } from "../errors/fault.js";

export type Fields<R> = Record<string, (row: R) => string | number | null | undefined>;

/** Longer search texts are refused: no oVirt client sends kilobytes of search. */
export const MAX_SEARCH_CHARS = 1024;
const MAX_TERMS = 16;

interface Term {
  field: string;
  op: "=" | "!=";
  pattern: string;
  caseSensitive: boolean;
}

/**
 * Does `value` match `pattern`, where `*` stands for any run of characters? Greedy two-pointer
 * matching with one remembered star: each character of the value is visited at most once per
 * restart, so O(pattern × value) at worst and linear in practice, whatever the pattern.
 */
export function wildcardMatch(pattern: string, value: string, caseSensitive = true): boolean {
  const p = caseSensitive ? pattern : pattern.toLowerCase();
  const v = caseSensitive ? value : value.toLowerCase();
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < v.length) {
    if (i < p.length && p[i] !== "*" && p[i] === v[j]) {
      i++;
      j++;
    } else if (i < p.length && p[i] === "*") {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (i < p.length && p[i] === "*") i++;
  return i === p.length;
}

function parse<R>(search: string, fields: Fields<R>, caseSensitive: boolean): { terms: Term[]; sort?: { field: string; desc: boolean } } {
  if (search.length > MAX_SEARCH_CHARS) throw new ApiFault(400, "Operation Failed", `Search: longer than ${MAX_SEARCH_CHARS} characters`);
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
  const parts = text.split(/\s+and\s+/i);
  if (parts.length > MAX_TERMS) throw new ApiFault(400, "Operation Failed", `Search: more than ${MAX_TERMS} terms`);
  for (const part of parts) {
    const t = /^\s*([a-z_.]+)\s*(!=|=)\s*(?:"([^"]*)"|(\S*))\s*$/i.exec(part);
    if (!t) throw new ApiFault(400, "Operation Failed", `Search: cannot parse '${part.slice(0, 80)}'`);
    const field = (t[1] ?? "").toLowerCase();
    if (!fields[field]) throw new ApiFault(400, "Operation Failed", `Search: unknown field '${field}'`);
    terms.push({ field, op: t[2] as "=" | "!=", pattern: t[3] ?? t[4] ?? "", caseSensitive });
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
        const m = wildcardMatch(t.pattern, v, t.caseSensitive);
        return t.op === "=" ? m : !m;
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
