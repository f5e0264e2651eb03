/**
 * Config files of the installed services (/etc/vela/engine.conf, /etc/vela/node.conf): lines of
 * KEY=VALUE with the names and meanings of the environment variables, `#` comments and blank
 * lines. Parsed strictly — an unknown key, a line that is not KEY=VALUE or a key given twice is an
 * error naming the file and line, and nothing of the file is used — so a typo never leaves a
 * service half-configured. Shared by engine and node; the file is read by each side (no I/O here).
 */

/** A config file that cannot be used; `problems` lists every bad line ("file:line: why"). */
export class ConfError extends Error {
  readonly code = "CONF_INVALID";
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid configuration, nothing of it was used:\n  ${problems.join("\n  ")}`);
    this.name = "ConfError";
  }
}

const KEY = /^[A-Z][A-Z0-9_]*$/;

/** One value: bare (trailing spaces dropped) or wholly in "double" or 'single' quotes. */
function unquote(raw: string): string | undefined {
  const v = raw.trim();
  const q = v[0];
  if (q === '"' || q === "'") return v.length >= 2 && v.endsWith(q) && !v.slice(1, -1).includes(q) ? v.slice(1, -1) : undefined;
  return /["'\\]/.test(v) ? undefined : v;
}

/** Takes one line into `out`; returns what is wrong with it, if anything. */
function parseLine(line: string, allowed: Set<string>, out: Record<string, string>): string | undefined {
  const t = line.trim();
  if (t === "" || t.startsWith("#")) return undefined;
  const eq = t.indexOf("=");
  const key = eq > 0 ? t.slice(0, eq).trim() : "";
  if (!KEY.test(key)) return `expected KEY=VALUE, got ${JSON.stringify(t.slice(0, 60))}`;
  if (!allowed.has(key)) return `unknown key ${key} (known: ${[...allowed].join(", ")})`;
  if (key in out) return `${key} given twice`;
  const value = unquote(t.slice(eq + 1));
  if (value === undefined) return `${key} has a malformed value (quote the whole value, no quotes or backslashes inside)`;
  out[key] = value;
  return undefined;
}

/** Parses `text` (from `file`, for messages); keys must be in `known`. Throws ConfError. */
export function parseConf(text: string, known: readonly string[], file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  const allowed = new Set(known);
  text.split("\n").forEach((line, i) => {
    const problem = parseLine(line, allowed, out);
    if (problem) problems.push(`line ${i + 1}: ${problem}`);
  });
  if (problems.length) throw new ConfError(file, problems);
  return out;
}

/**
 * The environment with the file's settings added: a variable already set in `env` wins over the
 * file (so one run can override one setting). Returns the keys taken from the file.
 */
export function mergeConf(env: NodeJS.ProcessEnv, conf: Record<string, string>): string[] {
  const taken: string[] = [];
  for (const [k, v] of Object.entries(conf)) {
    if (env[k] !== undefined) continue;
    env[k] = v;
    taken.push(k);
  }
  return taken;
}

export interface ConfSource {
  /** The variable that names the file ("" = read no file). */
  envVar: string;
  /** Read when envVar is unset, and only if it exists. */
  defaultPath: string;
  known: readonly string[];
  /** Reads a file; undefined when it does not exist, throws for other errors. */
  read: (file: string) => string | undefined;
}

/** Reads the config file `src` names into `env` (env wins); returns the file used and the keys taken. */
export function loadConfInto(env: NodeJS.ProcessEnv, src: ConfSource): { file?: string; keys: string[] } {
  const named = env[src.envVar];
  const file = named ?? src.defaultPath;
  if (file === "") return { keys: [] };
  if (!file.startsWith("/")) throw new ConfError(file, [`${src.envVar} must be an absolute path`]);
  let text: string | undefined;
  try {
    text = src.read(file);
  } catch (e) {
    throw new ConfError(file, [`cannot read it: ${(e as Error).message}`]);
  }
  if (text === undefined) {
    // The default file is optional (a development run has none); a file asked for must exist.
    if (named === undefined) return { keys: [] };
    throw new ConfError(file, [`no such file (named by ${src.envVar})`]);
  }
  return { file, keys: mergeConf(env, parseConf(text, src.known, file)) };
}
