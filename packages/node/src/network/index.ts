/**
 * The network subsystem: host networking verbs (getNetworkCapabilities, setupNetworks,
 * setSafeNetworkConfig). setupNetworks calls run one at a time; with a connectivity check the call
 * answers only after a client has pinged over the new configuration, or rolls back and fails
 * (VDSM's ERR_LOST_CONNECTION). On start the host is brought back to the last safe configuration.
 */
import { join } from "node:path";
import { VdsmError } from "@vela/protocol";
import type { NodeContext } from "../api/context.js";
import type { Subsystem } from "../api/services.js";
import { waitPingAfter } from "./activity.js";
import { networkCapabilities } from "./caps.js";
import { emptyConfig, type NetConfig, NetConfigStore } from "./config.js";
import { writeDhcpScript } from "./dhcp.js";
import { apply, checkRequest, present, restoreNetworks, type SetupRequest, staleBonds, useDhcpScript } from "./setup.js";

export function netConfDir(ctx: NodeContext): string {
  return process.env.VELA_NODE_NETCONF || join(ctx.config.runDir, "netconf");
}

/** Brings the host to the safe configuration: rebuilds what is missing, undoes unsafe changes. */
async function restoreSafe(store: NetConfigStore, running: NetConfig, ctx: NodeContext): Promise<void> {
  const safe = await store.readSafe();
  if (!safe && Object.keys(running.networks).length === 0 && Object.keys(running.bondings ?? {}).length === 0) return;
  const target = safe ?? emptyConfig();
  const names = new Set([...Object.keys(running.networks), ...Object.keys(target.networks)]);
  const stale = [...names].filter((n) => {
    const cur = running.networks[n];
    const want = target.networks[n];
    return !cur || !want || JSON.stringify(cur) !== JSON.stringify(want) || !present(n, want);
  });
  const bonds = staleBonds(running, target);
  if (stale.length === 0 && bonds.length === 0) return;
  ctx.log.info({ networks: stale, bonds }, "restoring the safe network configuration");
  await restoreNetworks(stale, running, target, ctx.log, bonds);
  await store.writeRunning(running);
}

export async function createNetwork(ctx: NodeContext): Promise<Subsystem> {
  const log = ctx.log.child({ subsystem: "network" });
  const store = new NetConfigStore(netConfDir(ctx));
  useDhcpScript(await writeDhcpScript(join(ctx.config.runDir, "netconf-bin")));
  const running = (await store.readRunning()) ?? emptyConfig();
  await restoreSafe(store, running, { ...ctx, log });
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => {});
    return next;
  };

  const setup = (req: SetupRequest, options: { connectivityCheck: boolean; connectivityTimeout: number }) =>
    serial(async () => {
      await checkRequest(req, running, ctx.config.address);
      const before = structuredClone(running);
      await apply(req, running, log);
      await store.writeRunning(running);
      const appliedAt = Date.now();
      log.info({ networks: Object.keys(req.networks), bonds: Object.keys(req.bondings) }, "networks set up");
      if (options.connectivityCheck && !(await waitPingAfter(appliedAt, options.connectivityTimeout * 1000))) {
        log.warn({ timeoutS: options.connectivityTimeout }, "no client reached us after the network change: rolling back");
        await restoreNetworks(Object.keys(req.networks), running, before, log, Object.keys(req.bondings));
        await store.writeRunning(running);
        throw new VdsmError("ERR_LOST_CONNECTION", `no ping within ${options.connectivityTimeout} s`);
      }
      return {};
    });

  return {
    handlers: {
      getNetworkCapabilities: async () => ({ info: await networkCapabilities(running) }),
      setupNetworks: ({ networks, bondings, options }) => setup({ networks, bondings }, options),
      setSafeNetworkConfig: () =>
        serial(async () => {
          await store.writeSafe(running);
          return {};
        }),
    },
    close: async () => {},
  };
}
