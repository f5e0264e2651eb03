/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4) for tests: HELP and
 * TYPE lines, samples with escaped label values, numbers including NaN and ±Inf. It refuses what
 * a Prometheus server would refuse (a sample of an undeclared or differently typed family, a
 * family declared twice or after its samples, a duplicate series, a bad name or escape), so a
 * scrape that parses here is one Prometheus can ingest.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: PromSample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** A value as Prometheus reads it (Go's ParseFloat: NaN and [±]Inf[inity] in any case; prom-client writes "Nan"). */
function number(s: string, where: string): number {
  if (/^nan$/i.test(s)) return Number.NaN;
  const inf = /^([-+]?)inf(inity)?$/i.exec(s);
  if (inf) return inf[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: '${s}' is not a number`);
  return Number(s);
}

/** `{a="x",b="y\"z"}` from position `i` (at the '{'): the labels and the position after '}'. */
function readLabels(line: string, i: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let p = i + 1;
  for (;;) {
    if (line[p] === "}") return { labels, end: p + 1 };
    const eq = line.indexOf("=", p);
    if (eq < 0) throw new Error(`${where}: a label without '='`);
    const name = line.slice(p, eq).trim();
    if (!LABEL.test(name)) throw new Error(`${where}: bad label name '${name}'`);
    if (name in labels) throw new Error(`${where}: label '${name}' twice`);
    if (line[eq + 1] !== '"') throw new Error(`${where}: label '${name}' value not quoted`);
    let v = "";
    let q = eq + 2;
    for (;;) {
      const ch = line[q];
      if (ch === undefined) throw new Error(`${where}: unterminated value of label '${name}'`);
      if (ch === '"') break;
      if (ch === "\\") {
        const nx = line[q + 1];
        if (nx === "\\") v += "\\";
        else if (nx === '"') v += '"';
        else if (nx === "n") v += "\n";
        else throw new Error(`${where}: bad escape '\\${nx ?? ""}' in label '${name}'`);
        q += 2;
        continue;
      }
      v += ch;
      q++;
    }
    labels[name] = v;
    p = q + 1;
    if (line[p] === ",") p++;
    else if (line[p] !== "}") throw new Error(`${where}: expected ',' or '}' after label '${name}'`);
  }
}

/** The family a sample belongs to: itself, or a histogram's/summary's for _bucket/_sum/_count. */
function familyOf(name: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const own = families.get(name);
  if (own) return own;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const base = m ? families.get(m[1] as string) : undefined;
  return base && (base.type === "histogram" || base.type === "summary") ? base : undefined;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === "n" ? "\n" : "\\"));
}

/** Parses a whole exposition; throws with the line number on anything malformed. */
export function parsePrometheus(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const sampled = new Set<string>();
  const series = new Set<string>();
  const helps = new Map<string, string>();
  text.split("\n").forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, kw, name, rest = ""] = m as unknown as [string, string, string, string | undefined];
      if (!METRIC.test(name)) throw new Error(`${where}: bad metric name '${name}'`);
      if (kw === "HELP") {
        if (helps.has(name)) throw new Error(`${where}: HELP of ${name} twice`);
        helps.set(name, unescapeHelp(rest));
        const f = families.get(name);
        if (f) f.help = unescapeHelp(rest);
        return;
      }
      if (!TYPES.has(rest.trim())) throw new Error(`${where}: bad type '${rest}'`);
      if (families.has(name)) throw new Error(`${where}: TYPE of ${name} twice`);
      if (sampled.has(name)) throw new Error(`${where}: TYPE of ${name} after its samples`);
      families.set(name, { name, type: rest.trim() as PromFamily["type"], help: helps.get(name) ?? "", samples: [] });
      return;
    }
    const nameEnd = line.search(/[{\s]/);
    if (nameEnd <= 0) throw new Error(`${where}: no value: '${line.slice(0, 80)}'`);
    const name = line.slice(0, nameEnd);
    if (!METRIC.test(name)) throw new Error(`${where}: bad metric name '${name}'`);
    let labels: Record<string, string> = {};
    let p = nameEnd;
    if (line[p] === "{") ({ labels, end: p } = readLabels(line, p, where));
    const parts = line.slice(p).trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === "") throw new Error(`${where}: expected a value and an optional timestamp: '${line.slice(p)}'`);
    const value = number(parts[0] as string, where);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp '${parts[1]}'`);
    const fam = familyOf(name, families);
    if (!fam) throw new Error(`${where}: sample of ${name} without a TYPE line before it`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: series ${key} twice`);
    series.add(key);
    sampled.add(fam.name);
    if (fam.type === "counter" && !(value >= 0)) throw new Error(`${where}: counter ${name} is ${value}`);
    fam.samples.push({ name, labels, value });
  });
  return families;
}

/** The one sample of a family whose labels include `match`; throws when none or several. */
export function sampleOf(families: Map<string, PromFamily>, name: string, match: Record<string, string>): number {
  const f = familyOf(name, families);
  const found = (f?.samples ?? []).filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${name}${JSON.stringify(match)}: ${found.length} samples (family has ${f?.samples.length ?? 0})`);
  return (found[0] as PromSample).value;
}
