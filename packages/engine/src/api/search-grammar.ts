/**
 * oVirt's search language, parsed: `[Type:] term ((and|or|<space>) term)* [sortby field [asc|desc]]
 * [page N]`, a term `field op value` with op one of = != < > <= >=, values bare or "quoted", `*`
 * wildcards. `and` (or mere juxtaposition) binds tighter than `or`, as in oVirt. Field names are
 * lower-cased; `storage.name` and `cluster.id` fall back to the reference field (`storage`,
 * `cluster`) whose values hold both the id and the name. The text and the number of terms are
 * bounded; a parse error is oVirt's 400 "Operation Failed".
 */
import { ApiFault } from "../errors/fault.js";

export const MAX_SEARCH_CHARS = 1024;
const MAX_TERMS = 16;

export type Op = "=" | "!=" | "<" | ">" | "<=" | ">=";
export interface Term {
  field: string;
  op: Op;
  value: string;
}
export interface Query {
  /** Disjunction of conjunctions. */
  any: Term[][];
  sort?: { field: string; desc: boolean };
  page?: number;
}

// A bare word may hold `!` (not `!=`): `name=*!` is a value like any other.
const TOKEN = /\s*("[^"]*"|<=|>=|!=|=|<|>|(?:[^\s=!<>"]|!(?!=))+)/y;
const OPS = new Set(["=", "!=", "<", ">", "<=", ">="]);

function fault(detail: string): ApiFault {
  return new ApiFault(400, "Operation Failed", `Search: ${detail}`);
}

function tokens(text: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  for (;;) {
    const at = TOKEN.lastIndex;
    if (text.slice(at).trim() === "") return out;
    const m = TOKEN.exec(text);
    if (!m) throw fault(`cannot parse '${text.slice(at, at + 40).trim()}'`);
    out.push(m[1] as string);
  }
}

/** The field a name resolves to among `known`, or undefined. */
export function resolveField(name: string, known: (f: string) => boolean): string | undefined {
  const f = name.toLowerCase();
  if (known(f)) return f;
  const m = /^([a-z_]+)\.(name|id)$/.exec(f);
  return m && known(m[1] as string) ? (m[1] as string) : undefined;
}

export function parseQuery(search: string, known: (field: string) => boolean): Query {
  if (search.length > MAX_SEARCH_CHARS) throw fault(`longer than ${MAX_SEARCH_CHARS} characters`);
  const t = tokens(search);
  let i = 0;
  // "Vms:" / "Hosts:" — the type prefix the web UI's search box shows; the collection decides.
  if (/^[a-z]+:$/i.test(t[0] ?? "")) i++;
  const q: Query = { any: [[]] };
  let count = 0;
  while (i < t.length) {
    const word = (t[i] ?? "").toLowerCase();
    if (word === "sortby") {
      const field = resolveField(t[i + 1] ?? "", known);
      if (!field) throw fault(`cannot sort by unknown field '${(t[i + 1] ?? "").slice(0, 40)}'`);
      q.sort = { field, desc: false };
      i += 2;
      const dir = (t[i] ?? "").toLowerCase();
      if (dir === "asc" || dir === "desc") {
        q.sort.desc = dir === "desc";
        i++;
      }
      continue;
    }
    if (word === "page") {
      const n = Number(t[i + 1]);
      if (!Number.isSafeInteger(n) || n < 1) throw fault(`page wants a number from 1, not '${(t[i + 1] ?? "").slice(0, 20)}'`);
      q.page = n;
      i += 2;
      continue;
    }
    if (word === "and") {
      i++;
      continue;
    }
    if (word === "or") {
      if ((q.any.at(-1) ?? []).length === 0) throw fault("'or' without a term before it");
      q.any.push([]);
      i++;
      continue;
    }
    const [name, op, raw] = [t[i] ?? "", t[i + 1] ?? "", t[i + 2]];
    if (!OPS.has(op) || raw === undefined || OPS.has(raw)) throw fault(`cannot parse '${[name, op, raw ?? ""].join(" ").slice(0, 80)}'`);
    const field = resolveField(name, known);
    if (!field) throw fault(`unknown field '${name.slice(0, 40)}'`);
    if (++count > MAX_TERMS) throw fault(`more than ${MAX_TERMS} terms`);
    const value = raw.startsWith('"') ? raw.slice(1, -1) : raw;
    (q.any.at(-1) as Term[]).push({ field, op: op as Op, value });
    i += 3;
  }
  if (q.any.length > 1 && (q.any.at(-1) ?? []).length === 0) throw fault("'or' without a term after it");
  return q;
}
