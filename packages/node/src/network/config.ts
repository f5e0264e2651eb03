/**
 * The node's own record of the networks it configured: `running.json` (what setupNetworks last
 * applied) and `persist.json` (what setSafeNetworkConfig declared safe). On start the agent brings
 * the host back to the safe configuration — after a reboot the bridges are gone and are rebuilt;
 * changes never made safe are undone. Written atomically (temp file + rename). Lives in
 * VELA_NODE_NETCONF (default `<run dir>/netconf`; production points it at persistent storage).
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { NetworkAttrs } from "@vela/protocol";
import type { BondConf } from "./bond.js";

export type NetAttrs = Omit<NetworkAttrs, "remove">;

export interface NetConfig {
  version: 1;
  networks: Record<string, NetAttrs>;
  /** Bonds this node made (absent in files written before bonds existed). */
  bondings?: Record<string, BondConf>;
}

export function emptyConfig(): NetConfig {
  return { version: 1, networks: {}, bondings: {} };
}

export class NetConfigStore {
  constructor(readonly dir: string) {}

  get runningFile(): string {
    return join(this.dir, "running.json");
  }

  get persistFile(): string {
    return join(this.dir, "persist.json");
  }

  private async read(file: string): Promise<NetConfig | undefined> {
    try {
      const c = JSON.parse(await readFile(file, "utf8")) as NetConfig;
      return c.version === 1 && typeof c.networks === "object" ? { ...c, bondings: c.bondings ?? {} } : undefined;
    } catch {
      return undefined;
    }
  }

  private async write(file: string, c: NetConfig): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(c, null, 1)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  }

  readRunning(): Promise<NetConfig | undefined> {
    return this.read(this.runningFile);
  }

  readSafe(): Promise<NetConfig | undefined> {
    return this.read(this.persistFile);
  }

  writeRunning(c: NetConfig): Promise<void> {
    return this.write(this.runningFile, c);
  }

  writeSafe(c: NetConfig): Promise<void> {
    return this.write(this.persistFile, c);
  }
}
