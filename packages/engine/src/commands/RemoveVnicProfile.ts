/** Removes a vNIC profile no VM NIC uses. */
import { conflict } from "../errors/fault.js";
import { mustProfile } from "../db/repo/networks.js";
import type { VnicProfile } from "../db/schema.js";
import type { CommandDef } from "./command.js";

export const RemoveVnicProfile: CommandDef<{ id: string }, VnicProfile, void> = {
  name: "remove VnicProfile",
  locks: (i) => [`vnicprofile:${i.id}`],
  async validate(e, { id }) {
    const p = await mustProfile(e, id);
    const used = await e.db.selectFrom("vm_nics").select("id").where("vnic_profile_id", "=", id).executeTakeFirst();
    if (used) throw conflict(`Cannot remove VnicProfile ${p.name}: VM NICs use it.`);
    return p;
  },
  describe: (p) => `Removing VnicProfile ${p.name}`,
  async execute(e, p) {
    await e.db.deleteFrom("vnic_profiles").where("id", "=", p.id).execute();
  },
};
