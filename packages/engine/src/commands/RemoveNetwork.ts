/** Removes a logical network that no VM NIC and no host uses (never the management network). */
import { conflict } from "../errors/fault.js";
import { MANAGEMENT_NETWORK } from "../db/migrations.js";
import { deleteNetworks, mustNetwork, networkHasNics } from "../db/repo/networks.js";
import type { Network } from "../db/schema.js";
import type { CommandDef } from "./command.js";

export const RemoveNetwork: CommandDef<{ id: string }, Network, void> = {
  name: "remove Network",
  locks: (i) => [`network:${i.id}`],
  async validate(e, { id }) {
    const n = await mustNetwork(e, id);
    if (n.name === MANAGEMENT_NETWORK) throw conflict(`Cannot remove Network. ${n.name} is the management network.`);
    if (await networkHasNics(e, id)) throw conflict(`Cannot remove Network ${n.name}: VM NICs use its profiles.`);
    const attached = await e.db.selectFrom("network_attachments").select("id").where("network_id", "=", id).executeTakeFirst();
    if (attached) throw conflict(`Cannot remove Network ${n.name}: hosts have it attached.`);
    return n;
  },
  describe: (n) => `Removing Network ${n.name}`,
  async execute(e, n) {
    await deleteNetworks(e, [n.id]);
  },
};
