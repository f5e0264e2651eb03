/**
 * Approve a registered host (pending_approval → up), optionally into another cluster; once up it
 * joins its data center's pool in the background.
 */
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { parseInput, Ref } from "../input/input.js";
import type { Host } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { byRef, mustById } from "../db/repo/entities.js";
import { setStatus, afterUp } from "./hostStatus.js";

const ApproveInput = z.object({ cluster: Ref.optional() });

export const ApproveHost: CommandDef<{ id: string; body: unknown }, { host: Host; clusterId?: string }, Host> = {
  name: "approve Host",
  locks: (i) => [`host:${i.id}`],
  async validate(e, { id, body }) {
    const host = await mustById(e, "hosts", id);
    const input = parseInput(ApproveInput, body, "action", "approve");
    if (host.status !== "pending_approval" && host.status !== "installing") throw conflict(`Cannot approve Host ${host.name}: it is ${host.status}, not pending approval`);
    const clusterId = input.cluster ? (await byRef(e, "clusters", input.cluster)).id : undefined;
    return { host, clusterId };
  },
  describe: (p) => `Approving Host ${p.host.name}`,
  async execute(e, { host, clusterId }) {
    if (clusterId) await e.db.updateTable("hosts").set({ cluster_id: clusterId }).where("id", "=", host.id).execute();
    const h = await setStatus(e, host.id, "up");
    afterUp(e, h.id);
    return h;
  },
};
