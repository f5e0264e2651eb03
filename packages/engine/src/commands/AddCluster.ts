/** Adds a cluster to a data center. */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { Enum, Int, Name, parseInput, Ref, Text } from "../input/input.js";
import { type Cluster, now } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { byRef } from "../db/repo/entities.js";
import { setUpClusterNetworking } from "../db/repo/networks.js";

export const Input = z.object({
  name: Name.refine((s) => s.length <= 40, "longer than 40 characters"),
  description: Text(4000).optional(),
  comment: Text(4000).optional(),
  data_center: Ref,
  cpu: z.object({ architecture: Enum(["x86_64"]).optional(), type: Text(255).optional() }).optional(),
  version: z.object({ major: Int(4, 4), minor: Int(7, 8) }).optional(),
});

export const AddCluster: CommandDef<unknown, z.output<typeof Input> & { dcId: string }, Cluster> = {
  name: "add Cluster",
  locks: () => ["cluster:names"],
  async validate(e, body) {
    const input = parseInput(Input, body, "Cluster");
    const dc = await byRef(e, "data_centers", input.data_center);
    const clash = await e.db.selectFrom("clusters").select("id").where("name", "=", input.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add Cluster. The name ${input.name} is already in use.`);
    return { ...input, dcId: dc.id };
  },
  describe: (p) => `Adding Cluster ${p.name}`,
  async execute(e, p) {
    const row: Cluster = {
      id: randomUUID(),
      name: p.name,
      description: p.description ?? "",
      comment: p.comment ?? "",
      data_center_id: p.dcId,
      cpu_architecture: p.cpu?.architecture ?? "x86_64",
      cpu_type: p.cpu?.type ?? "",
      version_major: p.version?.major ?? 4,
      version_minor: p.version?.minor ?? 7,
      created_at: now(),
      mac_pool_id: null,
    };
    await e.db.insertInto("clusters").values(row).execute();
    await setUpClusterNetworking(e, row.id, row.data_center_id);
    return (await e.db.selectFrom("clusters").selectAll().where("id", "=", row.id).executeTakeFirst()) ?? row;
  },
};
