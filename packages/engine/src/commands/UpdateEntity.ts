/**
 * PUT on data centers, clusters, hosts, storage domains and templates: what every oVirt client
 * may change on them at any time — name, description, comment (and a data center's quota mode). Clients (the SDKs, Ansible's
 * modules) PUT back whole representations they read: members that are not updatable here are
 * ignored, as oVirt ignores read-only members. A new name must be free among its kind.
 */
import { z } from "zod";
import type { Engine } from "../engine.js";
import { conflict } from "../errors/fault.js";
import { Enum, Name, parseInput, Text } from "../input/input.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { ClusterMemoryInput, clusterMemorySet, pushMomPolicyToCluster } from "./clusterMemory.js";
import { QUOTA_MODES } from "../quotas/store.js";

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
  const common = z.object({
    name: Name.refine((s) => s.length <= kind.nameMax, `longer than ${kind.nameMax} characters`).optional(),
    description: Text(4000).optional(),
    comment: Text(4000).optional(),
  });
  // clusters also take their memory over-commit settings (clusterMemory.ts)
  if (kind.table === "data_centers") return common.extend({ quota_mode: Enum(QUOTA_MODES).optional() });
  return kind.table === "clusters" ? common.extend(ClusterMemoryInput.shape) : common;
}

interface Plan {
  kind: Kind;
  id: string;
  set: { name?: string; description?: string; comment?: string; quota_mode?: string } & ReturnType<typeof clusterMemorySet>;
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
    const { ballooning_enabled, memory_policy, ksm, ...plain } = p as ClusterMemoryInput & typeof p;
    const set = { ...Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined)), ...clusterMemorySet({ ballooning_enabled, memory_policy, ksm }) };
    return { kind, id: row.id, set };
  },
  describe: (p) => `Updating ${p.kind.what} ${p.set.name ?? p.id}`,
  async execute(e, { kind, id, set }) {
    if (Object.keys(set).length === 0) return;
    await e.db.updateTable(kind.table).set(set).where("id", "=", id).execute();
    if (kind.table === "clusters" && ("ballooning" in set || "over_commit_percent" in set || "ksm" in set)) await pushMomPolicyToCluster(e, id);
  },
};
