/**
 * LDAP search filter values from untrusted text (RFC 4515 §3): every character that has a
 * meaning in a filter (`*`, `(`, `)`, `\`, NUL) becomes its \XX escape, so nothing a client sends
 * can change a filter's structure. A search pattern keeps its `*` wildcards, and only those.
 */

/** The value as a filter assertion value: matched literally. */
export function escapeFilterValue(value: string): string {
  // Escaping by UTF-8 byte keeps the text's own characters as they are except these five.
  return value.replace(/[*()\\\0]/g, (ch) => `\\${ch.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** A search pattern (`al*`, `*ce`) as a substring filter value: `*` is a wildcard, everything else literal. */
export function escapePattern(pattern: string): string {
  // `**` is not a valid substring filter: runs of wildcards are one
  return pattern.replace(/\*+/g, "*").split("*").map(escapeFilterValue).join("*");
}

/** `(&BASE(attr=value))`: the configured filter ANDed with one assertion (value already escaped). */
export function andAssertion(base: string, attr: string, escaped: string): string {
  return `(&${base}(${attr}=${escaped}))`;
}
