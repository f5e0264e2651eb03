/**
 * Fixed catalogues a client reads to fill its choices: the operating system types a VM may have
 * (`/operatingsystems`, the ones AddVm accepts), the cluster compatibility levels Vela accepts
 * (`/clusterlevels`, ids like `4.7`); the authentication domains are users/domains.ts.
 * The Python SDK lists them; each is searchable like any collection and 404 for an unknown id.
 */
import { OsTypes } from "../../commands/AddVm.js";
import { notFound } from "../../errors/fault.js";
import { type Call, ok, type Reply } from "../call.js";
import { href } from "../href.js";
import { collection, type Rep } from "../repr.js";
import { applySearch } from "../search.js";

/** What a person reads for each OS type (the API's `description`). */
const OS_DESCRIPTIONS: Record<(typeof OsTypes)[number], string> = {
  other: "Other OS",
  other_linux: "Linux",
  linux: "Linux",
  rhel_8x64: "Red Hat Enterprise Linux 8.x x64",
  rhel_9x64: "Red Hat Enterprise Linux 9.x x64",
  debian_12: "Debian 12",
  ubuntu_22_04: "Ubuntu 22.04",
  windows_2019x64: "Windows 2019 x64",
  windows_2022: "Windows 2022",
};

/** Cluster levels AddCluster and AddDataCenter accept (major 4, minor 7–8). */
const LEVELS = ["4.7", "4.8"];

interface Entry {
  id: string;
  name: string;
}

function os(name: (typeof OsTypes)[number]): Rep {
  return { href: href("operatingsystems", name), id: name, name, description: OS_DESCRIPTIONS[name], architecture: "x86_64" };
}

const level = (id: string): Rep => ({ href: href("clusterlevels", id), id });

const fields = { name: (r: Entry) => r.name, id: (r: Entry) => r.id };
const search = (c: Call, rows: Entry[]): Entry[] => applySearch(rows, c.query, fields);

export async function operatingSystems(c: Call): Promise<Reply> {
  const found = search(c, OsTypes.map((n) => ({ id: n, name: n })));
  // oVirt's model spells this collection `operation_systems`, and the SDKs' readers only know that name
  return ok("operation_systems", collection("operating_system", found.map((r) => os(r.id as (typeof OsTypes)[number]))));
}

export async function operatingSystem(c: Call): Promise<Reply> {
  const id = c.params.id ?? "";
  const name = OsTypes.find((n) => n === id);
  if (!name) throw notFound("Operating System", id.slice(0, 80));
  return ok("operating_system", os(name));
}

export async function clusterLevels(c: Call): Promise<Reply> {
  const found = search(c, LEVELS.map((l) => ({ id: l, name: l })));
  return ok("cluster_levels", collection("cluster_level", found.map((r) => level(r.id))));
}

export async function clusterLevel(c: Call): Promise<Reply> {
  const id = c.params.id ?? "";
  if (!LEVELS.includes(id)) throw notFound("Cluster Level", id.slice(0, 80));
  return ok("cluster_level", level(id));
}
