/**
 * PUT on data centers, clusters, hosts, storage domains and templates: what every oVirt client
 * may change on them at any time — name, description, comment. Clients (the SDKs, Ansible's
 * modules) PUT back whole representations they read: members that are not updatable here are
 * ignored, as oVirt ignores read-only members. A new name must be free among its kind.
 */
import { z } from "zod";
import type { Engine } from "../engine.js";
import { conflict } from "../errors/fault.js";
import { Name, parseInput, Text } from "../input/input.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";

type Table = "data_centers" | "clusters" | "hosts" | "storage_domains" | "templates";

export interface Kind {
  table: Table;
  /** oVirt's name of the kind, for messages ("Data Center"). */
  what: string;
  nameMax: number;
  /** The lock that serialises names of this kind (the add command takes the same). */
  namesLock: string;
}

export const KINDS = {
  dataCenter: { table: "data_centers", what: "Data Center", nameMax: 40, namesLock: "dc:names" },
  cluster: { table: "clusters", what: "Cluster", nameMax: 40, namesLock: "cluster:names" },
  host: { table: "hosts", what: "Host", nameMax: 255, namesLock: "host:names" },
  storageDomain: { table: "storage_domains", what: "Storage Domain", nameMax: 50, namesLock: "sd:names" },
  template: { table: "templates", what: "Template", nameMax: 64, namesLock: "template:names" },
} as const satisfies Record<string, Kind>;

function inputOf(kind: Kind) {
  return z.object({
    name: Name.refine((s) => s.length <= kind.nameMax, `longer than ${kind.nameMax} characters`).optional(),
    description: Text(4000).optional(),
    comment: Text(4000).optional(),
  });
}

interface Plan {
  kind: Kind;
  id: string;
  set: { name?: string; description?: string; comment?: string };
}

export const UpdateEntity: CommandDef<{ kind: Kind; id: string; body: unknown }, Plan, void> = {
  name: "update",
  locks: (i) => [`${i.kind.table}:${i.id}`, i.kind.namesLock],
  async validate(e: Engine, { kind, id, body }) {
    const row = await mustById(e, kind.table, id);
    const p = parseInput(inputOf(kind), body, kind.what, "update");
    if (p.name !== undefined && p.name !== row.name) {
      const clash = await e.db.selectFrom(kind.table).select("id").where("name", "=", p.name).executeTakeFirst();
      if (clash) throw conflict(`Cannot update ${kind.what}. The name ${p.name} is already in use.`);
    }
    const set = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
    return { kind, id: row.id, set };
  },
  describe: (p) => `Updating ${p.kind.what} ${p.set.name ?? p.id}`,
  async execute(e, { kind, id, set }) {
    if (Object.keys(set).length === 0) return;
    await e.db.updateTable(kind.table).set(set).where("id", "=", id).execute();
  },
};
