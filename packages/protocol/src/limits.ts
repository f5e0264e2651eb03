/**
 * Bounds on request bodies that both the engine's REST layer and the node's transports check
 * before any parser sees the text: recursive parsing and decoding overflowed the stack on
 * ~8,000 levels of nesting (a 500 instead of a fault). Pure functions, no dependencies, so the
 * servers load them at start without the verb table.
 */

/** Deeper bodies are refused: oVirt's deepest representations and VDSM's verbs nest about ten levels. */
export const MAX_BODY_DEPTH = 64;

/** The `{`/`[` nesting of a JSON text (strings skipped) once it passes MAX_BODY_DEPTH, else 0. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > MAX_BODY_DEPTH) return depth;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return 0;
}

/**
 * The element nesting of an XML text once it passes MAX_BODY_DEPTH, else 0 (comments, CDATA,
 * declarations and processing instructions skipped). One pass with indexOf: linear even on
 * unclosed constructs.
 */
export function xmlDepth(text: string): number {
  let depth = 0;
  let i = text.indexOf("<");
  while (i >= 0) {
    const skip = text.startsWith("<!--", i) ? "-->" : text.startsWith("<![CDATA[", i) ? "]]>" : text.startsWith("<?", i) ? "?>" : text.startsWith("<!", i) ? ">" : undefined;
    const end = text.indexOf(skip ?? ">", i + 1);
    if (end < 0) return 0; // unclosed: the parser reports it
    if (skip === undefined) {
      if (text[i + 1] === "/") depth--;
      else if (text[end - 1] !== "/" && ++depth > MAX_BODY_DEPTH) return depth;
    }
    i = text.indexOf("<", end);
  }
  return 0;
}

/**
 * System directories: never a storage domain nor inside one (the node runs as root). Directories
 * in the first list are refused with everything below them; those in the second only exactly
 * (their subdirectories are where data may live).
 */
export const SYSTEM_DIRS: readonly string[] = ["/etc", "/proc", "/sys", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/root", "/run", "/var/run", "/var/log"];
export const SYSTEM_DIRS_EXACT: readonly string[] = ["/", "/dev", "/home", "/opt", "/tmp", "/var", "/var/lib", "/var/tmp"];

/** The system directory a normalised absolute path is or lies in, else undefined. */
export function systemDirectoryOf(path: string): string | undefined {
  if (SYSTEM_DIRS_EXACT.includes(path)) return path;
  return SYSTEM_DIRS.find((d) => path === d || path.startsWith(`${d}/`));
}

/** Mount options that would make any host directory a domain (bind) or change other mounts. */
export const FORBIDDEN_MOUNT_OPTION = /(^|,)(r?bind|move|remount|r?shared|r?slave|r?private)(,|$)/;
