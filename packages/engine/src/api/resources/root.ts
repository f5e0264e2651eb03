/** The API root `<api>`: links to every collection, product info, special objects, summary, time. */
import { BLANK_TEMPLATE_ID } from "../../db/ids.js";
import type { Call, Reply } from "../call.js";
import { href } from "../href.js";
import type { Rep } from "../repr.js";

/** Collections served, and whether they take `search`. */
const COLLECTIONS: [string, boolean][] = [
  ["clusters", true],
  ["cpuprofiles", false],
  ["datacenters", true],
  ["diskprofiles", false],
  ["groups", true],
  ["disks", true],
  ["events", true],
  ["hosts", true],
  ["imagetransfers", false],
  ["jobs", false],
  ["permissions", false],
  ["roles", false],
  ["schedulingpolicies", false],
  ["schedulingpolicyunits", false],
  ["storageconnections", false],
  ["storagedomains", true],
  ["templates", true],
  ["users", true],
  ["vmpools", true],
  ["vms", true],
];


export async function get(c: Call): Promise<Reply> {
  const db = c.engine.db;
  const n = (r: { n: number | string | bigint }) => Number(r.n);
  const vms = await db
    .selectFrom("vms")
    .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.sum<number>(eb.case().when("status", "!=", "down").then(1).else(0).end()).as("up")])
    .executeTakeFirstOrThrow();
  const hosts = await db
    .selectFrom("hosts")
    .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.sum<number>(eb.case().when("status", "=", "up").then(1).else(0).end()).as("up")])
    .executeTakeFirstOrThrow();
  const users = await db.selectFrom("users").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  const sds = await db.selectFrom("storage_domains").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  const sdActive = await db
    .selectFrom("storage_domain_attachments")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("status", "=", "active")
    .executeTakeFirstOrThrow();

  const link: Rep[] = [];
  for (const [name, searchable] of COLLECTIONS) {
    link.push({ href: href(name), rel: name });
    if (searchable) link.push({ href: `${href(name)}?search={query}`, rel: `${name}/search` });
  }
  const rep: Rep = {
    link,
    product_info: {
      name: "Vela",
      vendor: "Vela project",
      version: { build: 0, full_version: "4.5.0-vela-0.1.0", major: 4, minor: 5, revision: 0 },
    },
    special_objects: {
      blank_template: { href: href("templates", BLANK_TEMPLATE_ID), id: BLANK_TEMPLATE_ID },
    },
    summary: {
      hosts: { active: Number(hosts.up ?? 0), total: n(hosts) },
      storage_domains: { active: n(sdActive), total: n(sds) },
      users: { active: n(users), total: n(users) },
      vms: { active: Number(vms.up ?? 0), total: n(vms) },
    },
    time: new Date(),
    authenticated_user: c.user ? { href: href("users", c.user.id), id: c.user.id } : undefined,
  };
  return { status: 200, root: "api", rep };
}
