/**
 * /users and /groups, in oVirt's shapes (user_name alice@internal, principal, domain). Adding an
 * internal user takes a password (write-only: never in any answer); adding a directory user or
 * group (user_name alice@corp, or a domain) looks them up in the directory and takes no password.
 * Store errors become faults: a duplicate 409, a bad name or weak password 400, admin@internal 409.
 */
import { z } from "zod";
import { type Call, bodyOf, ok, pathId, type Reply } from "../api/call.js";
import { ApiFault, notFound } from "../errors/fault.js";
import { href, links } from "../api/href.js";
import { parseInput, Text } from "../input/input.js";
import { collection, type Rep } from "../api/repr.js";
import { applySearch } from "../api/search.js";
import type { Group, User } from "../db/schema.js";
import { permissionsOf } from "../permissions/resources.js";
import { addDirectoryGroup, addDirectoryUser } from "./directory-users.js";
import { MAX_NAME } from "./directory.js";
import { directoryFault, domainNamed, domainRef } from "./domains.js";
import { addGroup, addUser, DOMAIN, groupById, groupsOf, listGroups, listUsers, removeGroup, removeUser, UserError, userById } from "./store.js";

/** A directory row's name is name@profile already; an internal one's is the bare principal. */
const principal = (name: string, domain: string): string => (domain === DOMAIN ? name : name.slice(0, name.length - domain.length - 1));

export function userView(u: User): Rep {
  const base = href("users", u.id);
  return {
    href: base,
    id: u.id,
    name: u.first_name || principal(u.name, u.domain),
    link: links(base, ["groups", "permissions"]),
    domain_entry_id: u.external_id ?? u.id,
    email: u.email || undefined,
    last_name: u.last_name || undefined,
    namespace: "*",
    principal: principal(u.name, u.domain),
    user_name: u.domain === DOMAIN ? `${u.name}@${DOMAIN}` : u.name,
    domain: domainRef(u.domain),
  };
}

export function groupView(g: Group): Rep {
  const base = href("groups", g.id);
  return { href: base, id: g.id, name: principal(g.name, g.domain), link: links(base, ["permissions"]), domain_entry_id: g.external_id ?? g.id, namespace: "*", domain: domainRef(g.domain) };
}

/** A store error as the API's fault. */
export function userFault(err: unknown): never {
  if (!(err instanceof UserError)) throw err;
  const status = err.code === "USER_EXISTS" || err.code === "GROUP_EXISTS" || err.code === "USER_PROTECTED" ? 409 : err.code.endsWith("NOT_FOUND") ? 404 : 400;
  throw new ApiFault(status, "Operation Failed", `[${err.code}] ${err.message}`);
}

const NewUser = z.object({
  // oVirt adds users by user_name (alice@internal) or principal; Vela's internal domain also needs a password
  user_name: z.string().max(200).optional(),
  principal: z.string().max(200).optional(),
  // internal users only: a directory user's password is the directory's
  password: z.string().max(4096).optional(),
  name: Text(255).optional(),
  last_name: Text(255).optional(),
  email: Text(255).optional(),
  domain: z.object({ name: z.string().max(200).optional(), id: z.string().max(200).optional() }).optional(),
});

async function mustUser(c: Call): Promise<User> {
  const id = pathId(c, "id", "User");
  const u = await userById(c.engine.db, id);
  if (!u) throw notFound("User", id);
  return u;
}

async function mustGroup(c: Call): Promise<Group> {
  const id = pathId(c, "id", "Group");
  const g = await groupById(c.engine.db, id);
  if (!g) throw notFound("Group", id);
  return g;
}

export async function listAll(c: Call): Promise<Reply> {
  const found = applySearch(await listUsers(c.engine.db), c.query, {
    name: (u: User) => principal(u.name, u.domain),
    usrname: (u) => (u.domain === DOMAIN ? `${u.name}@${DOMAIN}` : u.name),
    id: (u) => u.id,
    lastname: (u) => u.last_name,
  });
  return ok("users", collection("user", found.map(userView)));
}

export async function get(c: Call): Promise<Reply> {
  return ok("user", userView(await mustUser(c)));
}

export async function add(c: Call): Promise<Reply> {
  const b = parseInput(NewUser, bodyOf(c, ["user"]), "User");
  const login = b.user_name ?? b.principal;
  if (!login) throw new ApiFault(400, "Incomplete parameters", "User [user_name] required for add");
  const at = login.lastIndexOf("@");
  const named = b.domain?.name ?? b.domain?.id ?? (at >= 0 ? login.slice(at + 1) : DOMAIN);
  const d = domainNamed(c.engine, named);
  if (!d) throw new ApiFault(400, "Operation Failed", `no domain '${named.slice(0, 60)}': domains are those of GET /domains`);
  if (d !== DOMAIN) {
    if (b.password !== undefined) throw new ApiFault(400, "Operation Failed", `the password of a ${d.name} user is the directory's: send none`);
    const name = at >= 0 && domainNamed(c.engine, login.slice(at + 1)) === d ? login.slice(0, at) : login;
    if (!name || name.length > MAX_NAME) throw new ApiFault(400, "Operation Failed", "invalid user name");
    const entry = await d.findUser(name).catch(directoryFault);
    if (!entry) throw new ApiFault(404, "Not Found", `no user '${name.slice(0, 80)}' in the directory ${d.name}`);
    const u = await addDirectoryUser(c.engine.db, d.name, entry).catch(userFault);
    c.engine.log.info({ user: u.name, by: c.user?.name }, "directory user added");
    return ok("user", userView(u), 201);
  }
  if (b.password === undefined) throw new ApiFault(400, "Incomplete parameters", "User [password] required for add to the internal domain");
  const u = await addUser(c.engine.db, login, b.password, { first_name: b.name, last_name: b.last_name, email: b.email }).catch(userFault);
  c.engine.log.info({ user: u.name, by: c.user?.name }, "user added");
  return ok("user", userView(u), 201);
}

export async function remove(c: Call): Promise<Reply> {
  const u = await mustUser(c);
  await removeUser(c.engine.db, u).catch(userFault);
  c.engine.log.info({ user: u.name, by: c.user?.name }, "user removed");
  return { status: 200 };
}

export async function userGroups(c: Call): Promise<Reply> {
  const u = await mustUser(c);
  return ok("groups", collection("group", (await groupsOf(c.engine.db, u.id)).map(groupView)));
}

export async function userPermissions(c: Call): Promise<Reply> {
  const u = await mustUser(c);
  return permissionsOf(c, (q) => q.where("user_id", "=", u.id));
}

export async function groups(c: Call): Promise<Reply> {
  const found = applySearch(await listGroups(c.engine.db), c.query, { name: (g: Group) => principal(g.name, g.domain), id: (g) => g.id });
  return ok("groups", collection("group", found.map(groupView)));
}

export async function group(c: Call): Promise<Reply> {
  return ok("group", groupView(await mustGroup(c)));
}

const NewGroup = z.object({
  name: z.string().max(200),
  domain: z.object({ name: z.string().max(200).optional(), id: z.string().max(200).optional() }).optional(),
});

export async function addGroupCall(c: Call): Promise<Reply> {
  const b = parseInput(NewGroup, bodyOf(c, ["group"]), "Group");
  const named = b.domain?.name ?? b.domain?.id ?? DOMAIN;
  const d = domainNamed(c.engine, named);
  if (!d) throw new ApiFault(400, "Operation Failed", `no domain '${named.slice(0, 60)}': domains are those of GET /domains`);
  if (d === DOMAIN) return ok("group", groupView(await addGroup(c.engine.db, b.name).catch(userFault)), 201);
  const name = b.name.endsWith(`@${d.name}`) ? b.name.slice(0, -d.name.length - 1) : b.name;
  if (!name || name.length > MAX_NAME) throw new ApiFault(400, "Operation Failed", "invalid group name");
  const entry = await d.findGroup(name).catch(directoryFault);
  if (!entry) throw new ApiFault(404, "Not Found", `no group '${name.slice(0, 80)}' in the directory ${d.name}`);
  const g = await addDirectoryGroup(c.engine.db, d.name, entry).catch(userFault);
  c.engine.log.info({ group: g.name, by: c.user?.name }, "directory group added");
  return ok("group", groupView(g), 201);
}

export async function removeGroupCall(c: Call): Promise<Reply> {
  await removeGroup(c.engine.db, await mustGroup(c));
  return { status: 200 };
}

export async function groupPermissions(c: Call): Promise<Reply> {
  const g = await mustGroup(c);
  return permissionsOf(c, (q) => q.where("group_id", "=", g.id));
}
