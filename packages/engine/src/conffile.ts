/**
 * The engine's config file (/etc/vela/engine.conf, or VELA_ENGINE_CONF; "" = none): KEY=VALUE
 * lines of the environment variables below, merged into the environment before anything reads
 * it (a variable set in the environment wins). Unknown keys or bad lines stop the start.
 */
import { readFileSync } from "node:fs";
import { loadConfInto } from "@vela/protocol";

/** Every setting the engine reads from its environment (a style test keeps this list complete). */
export const ENGINE_CONF_KEYS = [
  "VELA_HOME",
  "VELA_ENGINE_PORT",
  "VELA_ENGINE_LISTEN",
  "VELA_ENGINE_TLS",
  "VELA_ENGINE_TLS_NAMES",
  "VELA_ADMIN_PASSWORD",
  "VELA_REGISTRATION_TOKEN",
  "VELA_DB_URL",
  "VELA_DB_POOL_MAX",
  "VELA_LOG_LEVEL",
  "VELA_ENGINE_HOST_POLL_MS",
  "VELA_ENGINE_VM_POLL_MS",
  "VELA_ENGINE_HOST_FAILURES",
  "VELA_ENGINE_NODE_TIMEOUT_MS",
  "VELA_ENGINE_LEASE_TIME_SEC",
  "VELA_ENGINE_LEASE_RENEW_SEC",
  "VELA_ENGINE_MAX_CLOCK_SKEW_SEC",
  "VELA_ENGINE_SHUTDOWN_TIMEOUT_SEC",
  "VELA_STORAGE_ROOTS",
  "VELA_BOOT_DIRS",
  "VELA_NODE_BOOT_DIRS",
  // the LDAP directory (users/directory-config.ts)
  "VELA_LDAP_PROFILE",
  "VELA_LDAP_URL",
  "VELA_LDAP_STARTTLS",
  "VELA_LDAP_CA_FILE",
  "VELA_LDAP_BIND_DN",
  "VELA_LDAP_BIND_PASSWORD_FILE",
  "VELA_LDAP_USER_BASE",
  "VELA_LDAP_USER_FILTER",
  "VELA_LDAP_USER_ATTR",
  "VELA_LDAP_GROUP_BASE",
  "VELA_LDAP_GROUP_FILTER",
  "VELA_LDAP_GROUP_ATTR",
  "VELA_LDAP_MEMBERSHIP",
  "VELA_LDAP_TIMEOUT_MS",
] as const;

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export function loadEngineConfFile(env: NodeJS.ProcessEnv = process.env): { file?: string; keys: string[] } {
  return loadConfInto(env, { envVar: "VELA_ENGINE_CONF", defaultPath: "/etc/vela/engine.conf", known: ENGINE_CONF_KEYS, read: readIfExists });
}
