/**
 * /domains: the authentication domains, `internal` and the LDAP directory if one is configured,
 * and what oVirt administrators browse to add users and groups: `/domains/{id}/users?search=` and
 * `/domains/{id}/groups?search=` (the internal database, or a search of the directory). A domain's
 * id is oVirt's: the base64 of `<name>-authz`. Clients may name a domain `corp` or `corp-authz`.
 */
import { ApiFault, notFound } from "../errors/fault.js";
import { type Call, ok, type Reply } from "../api/call.js";
import { href, links } from "../api/href.js";
import { collection, type Rep } from "../api/repr.js";
import { applySearch } from "../api/search.js";
import type { Engine } from "../engine.js";
import type { Group, User } from "../db/schema.js";
import { type DirEntry, type Directory, DirectoryUnavailable, MAX_NAME, TooManyMatches } from "./directory.js";
import { DOMAIN, DOMAIN_ID, listGroups, listUsers } from "./store.js";

/** oVirt's domain id: the base64 of the authz extension's name (`internal-authz` for internal). */
export function domainIdOf(name: string): string {
  return Buffer.from(`${name}-authz`).toString("base64url");
}

export function domainRef(name: string): Rep {
  return { href: href("domains", domainIdOf(name)), id: domainIdOf(name), name };
}

/** The domain a client names (`corp`, `corp-authz`, or its id): "internal", the directory, or undefined. */
export function domainNamed(e: Engine, nameOrId: string): typeof DOMAIN | Directory | undefined {
  const n = nameOrId.replace(/-authz$/, "");
  if (n === DOMAIN || nameOrId === DOMAIN_ID) return DOMAIN;
  const dir = e.directory;
  if (dir && (n === dir.name || nameOrId === domainIdOf(dir.name))) return dir;
  return undefined;
}

/** A directory failure as the API's fault: 503 when it cannot answer, 400 when a search matches too much. */
export function directoryFault(err: unknown): never {
  if (err instanceof DirectoryUnavailable) throw new ApiFault(503, "Service Unavailable", `[${err.code}] ${err.message}`);
  if (err instanceof TooManyMatches) throw new ApiFault(400, "Operation Failed", `[${err.code}] ${err.message}`);
  throw err;
}

function names(e: Engine): string[] {
  return [DOMAIN, ...(e.directory ? [e.directory.name] : [])];
}

function domainView(name: string): Rep {
  const base = href("domains", domainIdOf(name));
  return { ...domainRef(name), link: links(base, ["users", "groups"]) };
}

function mustDomain(c: Call): typeof DOMAIN | Directory {
  const id = c.params.id ?? "";
  // only ids here: a name in the path would make two URLs of one domain
  const d = domainNamed(c.engine, id);
  if (!d || (d === DOMAIN ? id !== DOMAIN_ID : id !== domainIdOf(d.name))) throw notFound("Domain", id.slice(0, 80));
  return d;
}

export async function domains(c: Call): Promise<Reply> {
  const found = applySearch(
    names(c.engine).map((n) => ({ id: domainIdOf(n), name: n })),
    c.query,
    { name: (r) => r.name, id: (r) => r.id },
  );
  return ok("domains", collection("domain", found.map((r) => domainView(r.name))));
}

export async function getDomain(c: Call): Promise<Reply> {
  const d = mustDomain(c);
  return ok("domain", domainView(d === DOMAIN ? DOMAIN : d.name));
}

/**
 * The value a directory search looks for: `search=al*`, `name=al*`, `usrname=alice@corp` (oVirt's
 * forms) → `al*`, `alice`. Only `*` is a wildcard; anything else is matched literally (escaped).
 */
export function directoryPattern(search: string | undefined, fields: string[], domain: string): string {
  let s = (search ?? "").trim();
  if (!s) return "*";
  if (s.length > MAX_NAME) throw new ApiFault(400, "Operation Failed", `the search is longer than ${MAX_NAME} characters`);
  const m = /^([A-Za-z_]+)\s*=\s*(.*)$/s.exec(s);
  if (m) {
    if (!fields.includes((m[1] ?? "").toLowerCase())) throw new ApiFault(400, "Operation Failed", `cannot search the directory by '${(m[1] ?? "").slice(0, 40)}': use ${fields.join(", ")}`);
    s = (m[2] ?? "").trim();
  }
  const quoted = /^"(.*)"$/s.exec(s);
  if (quoted) s = quoted[1] ?? "";
  if (s.endsWith(`@${domain}`)) s = s.slice(0, -domain.length - 1);
  return s || "*";
}

function limitOf(c: Call): number {
  const max = c.query.max === undefined ? 100 : Number(c.query.max);
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw new ApiFault(400, "Operation Failed", "max must be 1..1000 for a directory search");
  return max;
}

function dirUserView(dir: Directory, u: DirEntry): Rep {
  const did = domainIdOf(dir.name);
  return {
    href: `${href("domains", did)}/users/${u.id}`,
    id: u.id,
    name: u.firstName || u.name,
    last_name: u.lastName || undefined,
    email: u.email || undefined,
    domain_entry_id: u.id,
    namespace: dir.cfg.userBase,
    principal: u.name,
    user_name: `${u.name}@${dir.name}`,
    domain: domainRef(dir.name),
  };
}

function dirGroupView(dir: Directory, g: DirEntry): Rep {
  const did = domainIdOf(dir.name);
  return { href: `${href("domains", did)}/groups/${g.id}`, id: g.id, name: g.name, domain_entry_id: g.id, namespace: dir.cfg.groupBase, domain: domainRef(dir.name) };
}

function internalUserView(u: User): Rep {
  return {
    href: `${href("domains", DOMAIN_ID)}/users/${u.id}`,
    id: u.id,
    name: u.first_name || u.name,
    last_name: u.last_name || undefined,
    email: u.email || undefined,
    domain_entry_id: u.id,
    namespace: "*",
    principal: u.name,
    user_name: `${u.name}@${DOMAIN}`,
    domain: domainRef(DOMAIN),
  };
}

function internalGroupView(g: Group): Rep {
  return { href: `${href("domains", DOMAIN_ID)}/groups/${g.id}`, id: g.id, name: g.name, domain_entry_id: g.id, namespace: "*", domain: domainRef(DOMAIN) };
}

const internalUsers = async (c: Call) => (await listUsers(c.engine.db)).filter((u) => u.domain === DOMAIN);
const internalGroups = async (c: Call) => (await listGroups(c.engine.db)).filter((g) => g.domain === DOMAIN);

export async function domainUsers(c: Call): Promise<Reply> {
  const d = mustDomain(c);
  if (d === DOMAIN) {
    const found = applySearch(await internalUsers(c), c.query, { name: (u) => u.name, usrname: (u) => `${u.name}@${DOMAIN}`, id: (u) => u.id, lastname: (u) => u.last_name });
    return ok("users", collection("user", found.map(internalUserView)));
  }
  const found = await d.searchUsers(directoryPattern(c.query.search, ["name", "usrname", "username", "principal"], d.name), limitOf(c)).catch(directoryFault);
  return ok("users", collection("user", found.map((u) => dirUserView(d, u))));
}

export async function domainUser(c: Call): Promise<Reply> {
  const d = mustDomain(c);
  const id = c.params.user ?? "";
  if (d === DOMAIN) {
    const u = (await internalUsers(c)).find((x) => x.id === id);
    if (!u) throw notFound("User", id.slice(0, 80));
    return ok("user", internalUserView(u));
  }
  const u = await d.byId("user", id).catch(directoryFault);
  if (!u) throw notFound("User", id.slice(0, 80));
  return ok("user", dirUserView(d, u));
}

export async function domainGroups(c: Call): Promise<Reply> {
  const d = mustDomain(c);
  if (d === DOMAIN) {
    const found = applySearch(await internalGroups(c), c.query, { name: (g) => g.name, id: (g) => g.id });
    return ok("groups", collection("group", found.map(internalGroupView)));
  }
  const found = await d.searchGroups(directoryPattern(c.query.search, ["name", "groupname"], d.name), limitOf(c)).catch(directoryFault);
  return ok("groups", collection("group", found.map((g) => dirGroupView(d, g))));
}

export async function domainGroup(c: Call): Promise<Reply> {
  const d = mustDomain(c);
  const id = c.params.group ?? "";
  if (d === DOMAIN) {
    const g = (await internalGroups(c)).find((x) => x.id === id);
    if (!g) throw notFound("Group", id.slice(0, 80));
    return ok("group", internalGroupView(g));
  }
  const g = await d.byId("group", id).catch(directoryFault);
  if (!g) throw notFound("Group", id.slice(0, 80));
  return ok("group", dirGroupView(d, g));
}
