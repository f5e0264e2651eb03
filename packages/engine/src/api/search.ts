/**
 * `?search=` (oVirt's query language, parsed in search-grammar.ts), `max` and `page`, applied to
 * rows already loaded (collections here are small). A field maps a row to one value or several
 * (a reference field gives the id and the name, so `cluster=Default` and `cluster=<uuid>` both
 * match). A field the resource does not know is a 400, as in oVirt. Wildcards are matched without
 * regular expressions (a pattern built from user input backtracks exponentially: seven `*` took
 * seconds and blocked the event loop), in time linear in pattern × value.
 */
import { ApiFault } from "../errors/fault.js";
import { type Op, parseQuery, type Term } from "./search-grammar.js";

export { MAX_SEARCH_CHARS } from "./search-grammar.js";

type Value = string | number | null | undefined;
export type Fields<R> = Record<string, (row: R) => Value | Value[]>;

/** oVirt's default page size when `page N` comes without `max`. */
const PAGE_SIZE = 100;

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

function compare(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (a.trim() !== "" && b.trim() !== "" && Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a.localeCompare(b);
}

function one(op: Op, pattern: string, v: string, caseSensitive: boolean): boolean {
  switch (op) {
    case "=":
      return wildcardMatch(pattern, v, caseSensitive);
    case "!=":
      return !wildcardMatch(pattern, v, caseSensitive);
    case "<":
      return compare(v, pattern) < 0;
    case ">":
      return compare(v, pattern) > 0;
    case "<=":
      return compare(v, pattern) <= 0;
    case ">=":
      return compare(v, pattern) >= 0;
  }
}

function values(v: Value | Value[]): string[] {
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x) => (x === null || x === undefined ? "" : String(x)));
}

function matches<R>(row: R, t: Term, fields: Fields<R>, caseSensitive: boolean): boolean {
  const get = fields[t.field];
  const vs = get ? values(get(row)) : [""];
  // `!=` holds when no value matches; the others when some value does.
  if (t.op === "!=") return vs.every((v) => one("!=", t.value, v, caseSensitive));
  return vs.some((v) => one(t.op, t.value, v, caseSensitive));
}

export function applySearch<R>(rows: R[], query: Record<string, string>, fields: Fields<R>): R[] {
  let out = rows;
  let page: number | undefined;
  if (query.search) {
    const caseSensitive = (query.case_sensitive ?? "true").toLowerCase() !== "false";
    const q = parseQuery(query.search, (f) => Object.hasOwn(fields, f));
    page = q.page;
    out = out.filter((r) => q.any.some((all) => all.every((t) => matches(r, t, fields, caseSensitive))));
    const sort = q.sort;
    const get = sort ? fields[sort.field] : undefined;
    if (sort && get) {
      out = [...out].sort((a, b) => {
        const c = compare(values(get(a))[0] ?? "", values(get(b))[0] ?? "");
        return sort.desc ? -c : c;
      });
    }
  }
  let max = -1;
  if (query.max !== undefined) {
    max = Number(query.max);
    if (!Number.isInteger(max) || max < -1) throw new ApiFault(400, "Operation Failed", `Invalid max '${query.max.slice(0, 20)}'`);
  }
  if (page !== undefined) {
    const size = max >= 0 ? max : PAGE_SIZE;
    return out.slice((page - 1) * size, page * size);
  }
  return max >= 0 ? out.slice(0, max) : out;
}
