/**
 * Registration with the engine (the seed: "automatic start and registration"). The node announces
 * itself at start and again every minute, so an engine that was down or lost its database learns
 * of it without operator action. Failures are logged and retried; they never stop the node.
 */
import type { NodeConfig } from "../config.js";
import type { Logger } from "../log.js";
import { capabilities } from "./capabilities.js";

export interface Registrar {
  stop(): void;
}

export function startRegistration(config: NodeConfig, log: Logger, periodMs = 60_000): Registrar {
  if (!config.engineUrl) return { stop() {} };
  const url = new URL("/vela/v1/hosts/register", config.engineUrl).toString();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;

  const attempt = async () => {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          hostUuid: config.hostUuid,
          name: config.hostName,
          address: config.address,
          port: config.port,
          token: config.registrationToken,
          capabilities: await capabilities(config),
          // The engine refuses a host whose clock is far off its own (lease safety).
          time: Date.now(),
        }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`engine answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
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
