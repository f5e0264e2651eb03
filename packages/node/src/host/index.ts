/** Host verbs (capabilities, stats, ping, verb list); other subsystems contribute stats fields. */
import { verbs } from "@vela/protocol";
import type { NodeContext } from "../api/context.js";
import type { PartialHandlers } from "../api/handlers.js";
import type { Subsystem } from "../api/services.js";
import { notePing } from "../network/activity.js";
import { capabilities, stats } from "./capabilities.js";

export type StatsProvider = () => Promise<Record<string, unknown>>;

export function createHost(ctx: NodeContext, providers: StatsProvider[]): Subsystem {
  const handlers: PartialHandlers = {
    getVdsCapabilities: async () => ({ info: await capabilities(ctx.config) }),
    getVdsStats: async () => {
      const info = stats();
      for (const p of providers) Object.assign(info, await p());
      return { info };
    },
    ping: async () => {
      notePing(); // the evidence setupNetworks' connectivity check waits for
      return {};
    },
    getVerbs: async ({ filter }) => ({
      verbs: Object.values(verbs)
        .filter((v) => !filter || v.xml.includes(filter) || v.json.includes(filter))
        .map((v) => ({ xml: v.xml, json: v.json, params: v.params.map((x) => x.name) })),
    }),
  };
  return { handlers, close: async () => {} };
}
