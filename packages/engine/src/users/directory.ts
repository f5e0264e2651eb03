/**
 * An LDAP directory as an authentication domain (oVirt's aaa-ldap): users sign in as
 * name@profile with their directory password, administrators search the directory to add users
 * and groups, and a user's groups come from the directory at each sign-in. Every operation opens
 * its own connection (StartTLS or ldaps:// with the configured CA), binds as the engine's account,
 * and closes: nothing to go stale, and a directory that comes back is used at once.
 *
 * Search-then-bind: a user's DN is found by an escaped filter (ldap-filter.ts), never built from
 * the name, and then bound with the password; an empty password is refused before any bind (it
 * would be an unauthenticated bind that "succeeds"). The engine's password is never logged.
 *
 * Groups nest, as oVirt resolves them: a member of group B, itself a member of group A, is in A
 * too. The groups above are read one level at a time, at most MAX_NESTING levels and MAX_GROUPS
 * groups in all, and a group met twice (a cycle, or two paths) is read once.
 */
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { Client, Entry as LdapEntry } from "ldapts";
import type { DirectoryConfig } from "./directory-config.js";
import { andAssertion, escapeFilterValue, escapePattern } from "./ldap-filter.js";

/** A directory user or group as the engine uses it. */
export interface DirEntry {
  dn: string;
  /** entryUUID: the entry's identity across renames. */
  id: string;
  /** The user's login attribute (uid) or the group's name attribute (cn). */
  name: string;
  firstName?: string;
  lastName?: string;
  email?: string;
}

/** The directory did not answer as it should (down, TLS refused, the engine's bind refused). */
export class DirectoryUnavailable extends Error {
  readonly code = "DIRECTORY_UNAVAILABLE";
}

/** A search matched more entries than asked for. */
export class TooManyMatches extends Error {
  readonly code = "DIRECTORY_TOO_MANY";
}

type Ldapts = typeof import("ldapts");
let lib: Promise<Ldapts> | undefined;
/** ldapts is loaded at the first directory operation: engines without a directory never load it (start-up time). */
const ldapts = (): Promise<Ldapts> => (lib ??= import("ldapts"));

/** A group as read while resolving nesting: with its own memberOf values (memberOf mode). */
type Nested = DirEntry & { memberOf?: string[] };

/** Levels of groups followed: the user's own groups are level 1, the groups they are in level 2, … */
export const MAX_NESTING = 8;
/** Groups of one user, however they nest: a bound on what one sign-in reads. */
const MAX_GROUPS = 1000;
/** Group DNs per `(|(member=…)…)` search. */
const DN_BATCH = 50;

/** Longest name or pattern accepted from a client (directory names are far shorter). */
export const MAX_NAME = 256;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function first(v: LdapEntry[string] | undefined): string | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : Buffer.isBuffer(x) ? x.toString("utf8") : String(x);
}

function all(v: LdapEntry[string] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString("utf8") : String(x)));
}

export class Directory {
  constructor(readonly cfg: DirectoryConfig) {}

  get name(): string {
    return this.cfg.name;
  }

  /**
   * TLS towards the directory: its certificate must chain to the configured CA and name the URL's
   * host (`host` is what Node checks the name against, also over StartTLS where no host is
   * connected to; SNI only for DNS names, as RFC 6066 allows no addresses there).
   */
  private tlsOptions(): ConnectionOptions {
    const host = new URL(this.cfg.url).hostname.replace(/^\[(.*)\]$/, "$1");
    return { ...(this.cfg.caPem ? { ca: this.cfg.caPem } : {}), host, ...(isIP(host) ? {} : { servername: host }), minVersion: "TLSv1.2" };
  }

  /** Runs fn on a connection bound as the engine's account; failures of the directory itself become DirectoryUnavailable. */
  private async session<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const { Client, InvalidCredentialsError } = await ldapts();
    const ldaps = this.cfg.url.toLowerCase().startsWith("ldaps:");
    const client = new Client({ url: this.cfg.url, timeout: this.cfg.timeoutMs, connectTimeout: this.cfg.timeoutMs, ...(ldaps ? { tlsOptions: this.tlsOptions() } : {}) });
    try {
      try {
        if (this.cfg.startTls) await client.startTLS(this.tlsOptions());
        await client.bind(this.cfg.bindDn, this.cfg.bindPassword);
      } catch (err) {
        const why = err instanceof InvalidCredentialsError ? "the engine's bind DN or password was refused" : err instanceof Error ? err.message : String(err);
        throw new DirectoryUnavailable(`directory ${this.cfg.name} at ${this.cfg.url}: ${why}`);
      }
      return await fn(client);
    } catch (err) {
      if (err instanceof DirectoryUnavailable || err instanceof TooManyMatches || err instanceof InvalidCredentialsError) throw err;
      throw new DirectoryUnavailable(`directory ${this.cfg.name} at ${this.cfg.url}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  private async find(c: Client, base: string, filter: string, attrs: string[], limit: number): Promise<LdapEntry[]> {
    const { SizeLimitExceededError } = await ldapts();
    try {
      const { searchEntries } = await c.search(base, { scope: "sub", filter, attributes: ["entryUUID", ...attrs], sizeLimit: limit });
      return searchEntries;
    } catch (err) {
      if (err instanceof SizeLimitExceededError) throw new TooManyMatches(`more than ${limit} entries match: narrow the search`);
      throw err;
    }
  }

  private user(e: LdapEntry): DirEntry | undefined {
    const id = first(e.entryUUID);
    const name = first(e[this.cfg.userAttr]);
    if (!id || !name) return undefined;
    return { dn: e.dn, id, name, firstName: first(e.givenName), lastName: first(e.sn), email: first(e.mail) };
  }

  private group(e: LdapEntry): DirEntry | undefined {
    const id = first(e.entryUUID);
    const name = first(e[this.cfg.groupAttr]);
    return id && name ? { dn: e.dn, id, name } : undefined;
  }

  private userAttrs(): string[] {
    return [this.cfg.userAttr, "givenName", "sn", "mail", ...(this.cfg.membership === "memberOf" ? ["memberOf"] : [])];
  }

  /** The one user whose login attribute is exactly `name` (none when zero or several match). */
  private async lookUser(c: Client, name: string): Promise<{ entry: DirEntry; raw: LdapEntry } | undefined> {
    const found = await this.find(c, this.cfg.userBase, andAssertion(this.cfg.userFilter, this.cfg.userAttr, escapeFilterValue(name)), this.userAttrs(), 2).catch((err: unknown) => {
      // two entries with one login name: neither can sign in (which one would it be?)
      if (err instanceof TooManyMatches) return [];
      throw err;
    });
    const entry = found.length === 1 && found[0] ? this.user(found[0]) : undefined;
    return entry && found[0] ? { entry, raw: found[0] } : undefined;
  }

  /** The directory groups the user is in, directly or through groups they are in (nested). */
  private async groupsOf(c: Client, user: { entry: DirEntry; raw: LdapEntry }): Promise<DirEntry[]> {
    const byMemberOf = this.cfg.membership === "memberOf";
    const seen = new Map<string, Nested>();
    // level 1: the user's own groups; then the groups each level's groups are members of
    let frontier = byMemberOf ? await this.groupsAt(c, all(user.raw.memberOf)) : await this.groupsHolding(c, [user.entry.dn]);
    for (let level = 1; frontier.length; level++) {
      const fresh: Nested[] = [];
      for (const g of frontier) {
        // a group met before (a cycle, or a second path to it) is not read again
        if (seen.has(g.id) || seen.size >= MAX_GROUPS) continue;
        seen.set(g.id, g);
        fresh.push(g);
      }
      if (level >= MAX_NESTING || !fresh.length) break;
      frontier = byMemberOf ? await this.groupsAt(c, fresh.flatMap((g) => g.memberOf ?? [])) : await this.groupsHolding(c, fresh.map((g) => g.dn));
    }
    return [...seen.values()].map(({ memberOf: _, ...g }) => g);
  }

  /** Groups having any of these DNs as a `member`, read in batches of DN_BATCH. */
  private async groupsHolding(c: Client, dns: string[]): Promise<Nested[]> {
    const out: DirEntry[] = [];
    for (let i = 0; i < dns.length && out.length < MAX_GROUPS; i += DN_BATCH) {
      const any = dns.slice(i, i + DN_BATCH).map((dn) => `(member=${escapeFilterValue(dn)})`).join("");
      const found = await this.find(c, this.cfg.groupBase, `(&${this.cfg.groupFilter}(|${any}))`, [this.cfg.groupAttr], MAX_GROUPS);
      for (const e of found) {
        const g = this.group(e);
        if (g) out.push(g);
      }
    }
    return out;
  }

  /** The groups at these DNs (memberOf values the directory wrote), each read as its own base entry, with their own memberOf. */
  private async groupsAt(c: Client, dns: string[]): Promise<Nested[]> {
    const out: Nested[] = [];
    for (const dn of [...new Set(dns)].slice(0, MAX_GROUPS)) {
      const { searchEntries } = await c.search(dn, { scope: "base", filter: this.cfg.groupFilter, attributes: ["entryUUID", this.cfg.groupAttr, "memberOf"] }).catch(() => ({ searchEntries: [] as LdapEntry[] }));
      for (const e of searchEntries) {
        const g = this.group(e);
        if (g) out.push({ ...g, memberOf: all(e.memberOf) });
      }
    }
    return out;
  }

  /**
   * The user and their groups when `password` is theirs; undefined for a wrong password, an
   * unknown or ambiguous name, or an empty password. Throws DirectoryUnavailable when the
   * directory cannot answer.
   */
  async authenticate(name: string, password: string): Promise<{ user: DirEntry; groups: DirEntry[] } | undefined> {
    if (!name || name.length > MAX_NAME || !password || password.length > 1024) return undefined;
    return this.session(async (c) => {
      const user = await this.lookUser(c, name);
      if (!user) return undefined;
      // groups are read with the engine's rights, before the connection becomes the user's
      const groups = await this.groupsOf(c, user);
      const { InvalidCredentialsError } = await ldapts();
      try {
        await c.bind(user.entry.dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return undefined;
        throw err;
      }
      return { user: user.entry, groups };
    });
  }

  /** Users whose login attribute matches the pattern (`*` wildcards), at most `limit`. */
  async searchUsers(pattern: string, limit: number): Promise<DirEntry[]> {
    return this.session(async (c) => {
      const found = await this.find(c, this.cfg.userBase, andAssertion(this.cfg.userFilter, this.cfg.userAttr, escapePattern(pattern)), this.userAttrs(), limit);
      return found.map((e) => this.user(e)).filter((u): u is DirEntry => u !== undefined);
    });
  }

  /** Groups whose name attribute matches the pattern (`*` wildcards), at most `limit`. */
  async searchGroups(pattern: string, limit: number): Promise<DirEntry[]> {
    return this.session(async (c) => {
      const found = await this.find(c, this.cfg.groupBase, andAssertion(this.cfg.groupFilter, this.cfg.groupAttr, escapePattern(pattern)), [this.cfg.groupAttr], limit);
      return found.map((e) => this.group(e)).filter((g): g is DirEntry => g !== undefined);
    });
  }

  /** The user named exactly `name`, if the directory has one. */
  async findUser(name: string): Promise<DirEntry | undefined> {
    return this.session(async (c) => (await this.lookUser(c, name))?.entry);
  }

  /** The group named exactly `name`, if the directory has exactly one. */
  async findGroup(name: string): Promise<DirEntry | undefined> {
    return this.session(async (c) => {
      const found = await this.find(c, this.cfg.groupBase, andAssertion(this.cfg.groupFilter, this.cfg.groupAttr, escapeFilterValue(name)), [this.cfg.groupAttr], 2).catch((err: unknown) => {
        if (err instanceof TooManyMatches) return [];
        throw err;
      });
      return found.length === 1 && found[0] ? this.group(found[0]) : undefined;
    });
  }

  /** The user or group with this entryUUID (only a UUID is ever put in the filter). */
  async byId(kind: "user" | "group", id: string): Promise<DirEntry | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.session(async (c) => {
      const base = kind === "user" ? this.cfg.userBase : this.cfg.groupBase;
      const filter = andAssertion(kind === "user" ? this.cfg.userFilter : this.cfg.groupFilter, "entryUUID", escapeFilterValue(id));
      const found = await this.find(c, base, filter, kind === "user" ? this.userAttrs() : [this.cfg.groupAttr], 2);
      return found.length === 1 && found[0] ? (kind === "user" ? this.user(found[0]) : this.group(found[0])) : undefined;
    });
  }
}
