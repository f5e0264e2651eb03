/**
 * Adds a logical network to a data center: unique name there (it is also the bridge name on hosts),
 * an optional VLAN id (0..4094, unique in the data center) and MTU, a VM network (bridged, with a
 * profile of the same name) unless its usages say otherwise.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { parseInput, Ref } from "../input/input.js";
import { NetworkInput, usagesOf } from "../input/network.js";
import { byRef } from "../db/repo/entities.js";
import { insertNetwork } from "../db/repo/networks.js";
import { type Network, now } from "../db/schema.js";
import type { CommandDef } from "./command.js";

export const AddNetwork: CommandDef<{ body: unknown; dcId?: string }, z.output<typeof NetworkInput> & { dcId: string }, Network> = {
  name: "add Network",
  locks: () => ["network:names"],
  async validate(e, { body, dcId }) {
    const input = parseInput(NetworkInput, body, "Network");
    const dcRef = dcId ? { id: dcId } : input.data_center;
    if (!dcRef) throw parseInput(z.object({ data_center: Ref }), {}, "Network");
    const dc = await byRef(e, "data_centers", dcRef);
    const clash = await e.db.selectFrom("networks").select("id").where("data_center_id", "=", dc.id).where("name", "=", input.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add Network. The name ${input.name} is already used by another network in the data center.`);
    if (input.vlan) {
      const same = await e.db.selectFrom("networks").select("name").where("data_center_id", "=", dc.id).where("vlan_id", "=", input.vlan.id).executeTakeFirst();
      if (same) throw conflict(`Cannot add Network. VLAN id ${input.vlan.id} is already used by network ${same.name} in the data center.`);
    }
    return { ...input, dcId: dc.id };
  },
  describe: (p) => `Adding Network ${p.name}`,
  async execute(e, p) {
    const usages = p.usages ? usagesOf(p.usages) : ["vm"];
    const row: Network = {
      id: randomUUID(),
      name: p.name,
      description: p.description ?? "",
      comment: p.comment ?? "",
      data_center_id: p.dcId,
      vlan_id: p.vlan?.id ?? null,
      mtu: p.mtu ?? 0,
      vm: usages.includes("vm") ? 1 : 0,
      created_at: now(),
    };
    await insertNetwork(e, row);
    return row;
  },
};
