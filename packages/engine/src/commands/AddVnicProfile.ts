/** Adds a vNIC profile to a VM network (unique name per network): what VM NICs connect through. */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { parseInput, Ref } from "../input/input.js";
import { ProfileInput } from "../input/network.js";
import { networkByRef } from "../db/repo/networks.js";
import { type Network, now, type VnicProfile } from "../db/schema.js";
import type { CommandDef } from "./command.js";

export const AddVnicProfile: CommandDef<{ body: unknown; networkId?: string }, { name: string; description: string; network: Network }, VnicProfile> = {
  name: "add VnicProfile",
  locks: () => ["vnicprofile:names"],
  async validate(e, { body, networkId }) {
    const input = parseInput(ProfileInput, body, "VnicProfile");
    const ref = networkId ? { id: networkId } : input.network;
    if (!ref) throw parseInput(z.object({ network: Ref }), {}, "VnicProfile");
    const network = await networkByRef(e, ref);
    if (!network.vm) throw conflict(`Cannot add VnicProfile: network ${network.name} is not a VM network.`);
    const clash = await e.db.selectFrom("vnic_profiles").select("id").where("network_id", "=", network.id).where("name", "=", input.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add VnicProfile. The name ${input.name} is already used by a profile of network ${network.name}.`);
    return { name: input.name, description: input.description ?? "", network };
  },
  describe: (p) => `Adding VnicProfile ${p.name}`,
  async execute(e, p) {
    const row: VnicProfile = { id: randomUUID(), name: p.name, description: p.description, network_id: p.network.id, created_at: now() };
    await e.db.insertInto("vnic_profiles").values(row).execute();
    return row;
  },
};
