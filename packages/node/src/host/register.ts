/**
 * Registration with the engine (the seed: "automatic start and registration"). The node announces
 * itself at start and again every minute, so an engine that was down or lost its database learns
 * of it without operator action. Failures are logged and retried; they never stop the node.
 */
import type { NodeConfig } from "../config.js";
import type { Logger } from "../log.js";
import { engineRequest, type Trust } from "../pki/link.js";
import { capabilities } from "./capabilities.js";

/** What the node tells the engine about itself, at registration and enrollment. */
export async function registrationBody(config: NodeConfig): Promise<Record<string, unknown>> {
  return {
    hostUuid: config.hostUuid,
    name: config.hostName,
    address: config.address,
    port: config.port,
    token: config.registrationToken,
    capabilities: await capabilities(config),
    // The engine refuses a host whose clock is far off its own (lease safety).
    time: Date.now(),
  };
}

export interface Registrar {
  stop(): void;
}

/** `trust`: the engine CA the node enrolled with (an https engine URL), none for plain http. */
export function startRegistration(config: NodeConfig, log: Logger, trust: Trust | undefined, periodMs = 60_000): Registrar {
  if (!config.engineUrl) return { stop() {} };
  const url = new URL("/vela/v1/hosts/register", config.engineUrl);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;

  const attempt = async () => {
    try {
      if (url.protocol === "https:" && !trust) throw new Error("the engine URL is https but this node has no engine CA (VELA_NODE_TLS=off?)");
      const res = await engineRequest(url, "POST", trust ?? { unverified: true }, await registrationBody(config));
      if (res.status < 200 || res.status >= 300) throw new Error(`engine answered ${res.status}: ${res.text.slice(0, 200)}`);
      if (failures > 0 || !timer) log.info({ engine: config.engineUrl }, "registered with engine");
      failures = 0;
    } catch (err) {
      failures++;
      // A refusal for the clock is said every time: nothing works until it is fixed.
      if (failures === 1 || failures % 30 === 0 || /clock is/.test(String(err))) log.warn({ engine: config.engineUrl, err: String(err) }, "registration failed; will retry");
    }
    if (!stopped) timer = setTimeout(attempt, failures ? Math.min(1000 * failures, 10_000) : periodMs);
  };
  void attempt();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
