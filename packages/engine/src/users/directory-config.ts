/**
 * The LDAP directory's settings (VELA_LDAP_*, in the engine's config file): read and checked once
 * at start, so a bad setting stops the start instead of failing at the first sign-in. The bind
 * password comes from a file (never the environment, never logged); the CA from a PEM file.
 */
import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";

export type Membership = "member" | "memberOf";

export interface DirectoryConfig {
  /** The profile: the domain users sign in with (alice@corp) and /domains names. */
  name: string;
  url: string;
  /** StartTLS on an ldap:// URL (ldaps:// is TLS from the first byte). */
  startTls: boolean;
  /** PEM of the CA(s) the directory's certificate must chain to; undefined: the system's. */
  caPem?: string;
  bindDn: string;
  /** The engine's own bind password (read from VELA_LDAP_BIND_PASSWORD_FILE). Never logged. */
  bindPassword: string;
  userBase: string;
  userFilter: string;
  userAttr: string;
  groupBase: string;
  groupFilter: string;
  groupAttr: string;
  /** Where membership is written: the group's `member` values (groupOfNames) or the user's `memberOf`. */
  membership: Membership;
  timeoutMs: number;
}

export class DirectoryConfigError extends Error {}

const PROFILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ATTR = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

function need(env: NodeJS.ProcessEnv, key: string): string {
  const v = env[key];
  if (!v) throw new DirectoryConfigError(`${key} is required when VELA_LDAP_PROFILE is set`);
  return v;
}

function attr(key: string, v: string | undefined, dflt: string): string {
  const a = v || dflt;
  if (!ATTR.test(a)) throw new DirectoryConfigError(`${key}: not an attribute name: ${JSON.stringify(a)}`);
  return a;
}

/** A configured filter is the administrator's: it must at least be one parenthesised filter. */
function filter(key: string, v: string | undefined, dflt: string): string {
  const f = v || dflt;
  let depth = 0;
  for (const ch of f) {
    if (ch === "(") depth++;
    else if (ch === ")" && --depth < 0) break;
  }
  if (!f.startsWith("(") || !f.endsWith(")") || depth !== 0) throw new DirectoryConfigError(`${key}: not a parenthesised LDAP filter: ${JSON.stringify(f)}`);
  return f;
}

function readSecret(key: string, file: string): string {
  if (!isAbsolute(file)) throw new DirectoryConfigError(`${key}: an absolute path is required`);
  try {
    // one trailing newline is the editor's, not the password's
    return readFileSync(file, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    throw new DirectoryConfigError(`${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function onOff(key: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined || v === "") return dflt;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new DirectoryConfigError(`${key}: expected on or off, got ${JSON.stringify(v)}`);
}

/** The directory's settings, or undefined when none is configured (VELA_LDAP_PROFILE unset). */
export function directoryConfig(env: NodeJS.ProcessEnv): DirectoryConfig | undefined {
  const name = env.VELA_LDAP_PROFILE;
  if (!name) return undefined;
  if (!PROFILE.test(name) || name.toLowerCase() === "internal") throw new DirectoryConfigError(`VELA_LDAP_PROFILE: letters, digits, '.', '_' and '-' (not "internal"), got ${JSON.stringify(name)}`);
  const url = need(env, "VELA_LDAP_URL");
  if (!/^ldaps?:\/\/[^/?#\s]+\/?$/i.test(url)) throw new DirectoryConfigError(`VELA_LDAP_URL: expected ldap://host[:port] or ldaps://host[:port], got ${JSON.stringify(url)}`);
  const ldaps = /^ldaps:/i.test(url);
  const startTls = !ldaps && onOff("VELA_LDAP_STARTTLS", env.VELA_LDAP_STARTTLS, true);
  const caFile = env.VELA_LDAP_CA_FILE;
  const userBase = need(env, "VELA_LDAP_USER_BASE");
  const membership = env.VELA_LDAP_MEMBERSHIP || "member";
  if (membership !== "member" && membership !== "memberOf") throw new DirectoryConfigError(`VELA_LDAP_MEMBERSHIP: member or memberOf, got ${JSON.stringify(membership)}`);
  const timeout = Number(env.VELA_LDAP_TIMEOUT_MS || 5000);
  if (!Number.isInteger(timeout) || timeout < 100 || timeout > 120_000) throw new DirectoryConfigError("VELA_LDAP_TIMEOUT_MS: an integer 100..120000");
  return {
    name,
    url,
    startTls,
    caPem: caFile ? readSecret("VELA_LDAP_CA_FILE", caFile) : undefined,
    bindDn: need(env, "VELA_LDAP_BIND_DN"),
    bindPassword: readSecret("VELA_LDAP_BIND_PASSWORD_FILE", need(env, "VELA_LDAP_BIND_PASSWORD_FILE")),
    userBase,
    userFilter: filter("VELA_LDAP_USER_FILTER", env.VELA_LDAP_USER_FILTER, "(objectClass=inetOrgPerson)"),
    userAttr: attr("VELA_LDAP_USER_ATTR", env.VELA_LDAP_USER_ATTR, "uid"),
    groupBase: env.VELA_LDAP_GROUP_BASE || userBase,
    groupFilter: filter("VELA_LDAP_GROUP_FILTER", env.VELA_LDAP_GROUP_FILTER, "(objectClass=groupOfNames)"),
    groupAttr: attr("VELA_LDAP_GROUP_ATTR", env.VELA_LDAP_GROUP_ATTR, "cn"),
    membership,
    timeoutMs: timeout,
  };
}
