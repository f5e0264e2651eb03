/** Adds a data center (no pool yet: status uninitialized until a storage domain is attached), with its default quota. */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { Bool, Enum, Int, Name, parseInput, Text } from "../input/input.js";
import { type DataCenter, now } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { CommandDef } from "./command.js";
import { addManagementNetwork } from "../db/repo/networks.js";
import { addDefaultQuota, QUOTA_MODES } from "../quotas/store.js";

export const Input = z.object({
  name: Name.refine((s) => s.length <= 40, "longer than 40 characters"),
  description: Text(4000).optional(),
  comment: Text(4000).optional(),
  local: Bool.optional(),
  storage_format: z.enum(["v5"], { message: "only storage format v5 is supported" }).optional(),
  version: z.object({ major: Int(4, 4), minor: Int(7, 8) }).optional(),
  quota_mode: Enum(QUOTA_MODES).optional(),
});

export const AddDataCenter: CommandDef<unknown, z.output<typeof Input>, DataCenter> = {
  name: "add Data Center",
  locks: () => ["dc:names"],
  async validate(e, body) {
    const input = parseInput(Input, body, "Data Center");
    const clash = await e.db.selectFrom("data_centers").select("id").where("name", "=", input.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add Data Center. The name ${input.name} is already in use.`);
    return input;
  },
  describe: (p) => `Adding Data Center ${p.name}`,
  async execute(e: Engine, p) {
    const row: DataCenter = {
      id: randomUUID(),
      name: p.name,
      description: p.description ?? "",
      comment: p.comment ?? "",
      local: p.local ? 1 : 0,
      storage_format: p.storage_format ?? "v5",
      version_major: p.version?.major ?? 4,
      version_minor: p.version?.minor ?? 7,
      master_domain_id: null,
      master_version: 0,
      spm_host_id: null,
      spm_lver: null,
      spm_contending: 0,
      created_at: now(),
      quota_mode: p.quota_mode ?? "disabled",
    };
    await e.db.insertInto("data_centers").values(row).execute();
    await addManagementNetwork(e, row.id);
    await addDefaultQuota(e, row.id, row.name);
    return row;
  },
};
