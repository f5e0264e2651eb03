/**
 * The node agent's config file (/etc/vela/node.conf, or VELA_NODE_CONF; "" = none): KEY=VALUE
 * lines of the environment variables below, merged into the environment before anything reads
 * it (a variable set in the environment wins). Unknown keys or bad lines stop the start.
 */
import { readFileSync } from "node:fs";
import { loadConfInto } from "@vela/protocol";

/** Every setting the agent reads from its environment (a style test keeps this list complete). */
export const NODE_CONF_KEYS = [
  "VELA_NODE_PORT",
  "VELA_NODE_LISTEN",
  "VELA_NODE_ADDRESS",
  "VELA_NODE_RUN",
  "VELA_NODE_ID",
  "VELA_NODE_NAME",
  "VELA_ENGINE_URL",
  "VELA_REGISTRATION_TOKEN",
  "VELA_NODE_TLS",
  "VELA_NODE_PKI",
  "VELA_ENGINE_CA",
  "VELA_NODE_BOOT_DIRS",
  "VELA_NODE_IMPORT_DIRS",
  "VELA_NODE_LUN_DIRS",
  "VELA_NODE_BLOCK_PATH",
  "VELA_NODE_THIN_CHUNK_MIB",
  "VELA_NODE_NETCONF",
  "VELA_NODE_DISPLAY_ADDRESS",
  "VELA_NODE_MOM_INTERVAL_MS",
  "VELA_NODE_KSM_DIR",
  "VELA_NODE_ACCEL",
  "VELA_NODE_SPM_PRIORITY",
  "VELA_NODE_SPM_AUTO",
  "VELA_NODE_STORAGE_DAEMON",
  "VELA_DOMAIN_MONITOR_MS",
  "VELA_STORAGE_WORKERS",
  "VELA_LOG_LEVEL",
] as const;

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export function loadNodeConfFile(env: NodeJS.ProcessEnv = process.env): { file?: string; keys: string[] } {
  return loadConfInto(env, { envVar: "VELA_NODE_CONF", defaultPath: "/etc/vela/node.conf", known: NODE_CONF_KEYS, read: readIfExists });
}
