/**
 * Finds storage domains on this host through the registered domain drivers (driver.ts): the file
 * driver scans every connected mount under `<runDir>/data-center/mnt` for
 * `<sdUUID>/dom_md/metadata` (VDSM's sdCache did the same); the block driver looks for a volume
 * group named sdUUID on the LUNs this host may use. Never trusts a cached domain without checking
 * it is still there.
 */
import { UUID_RE, VdsmError } from "@vela/protocol";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "../fileutil.js";
import type { DomainDriver, DriverName, StorageDomain } from "./driver.js";
import { FileDomain } from "./file.js";

export { FileDomain } from "./file.js";
export type { DomainDriver, DriverName, StorageDomain } from "./driver.js";

/** File domains: a directory `<mount>/<sdUUID>` with `dom_md/metadata`, on a connected mount. */
export class FileDriver implements DomainDriver<FileDomain> {
  readonly name = "file" as const;
  constructor(private readonly mntRoot: string) {}

  async find(sdUUID: string): Promise<FileDomain | undefined> {
    for (const mnt of await this.mounts()) {
      const d = new FileDomain(sdUUID, mnt);
      if (await exists(d.mdPath)) return d;
    }
    return undefined;
  }

  async all(): Promise<FileDomain[]> {
    const out: FileDomain[] = [];
    for (const mnt of await this.mounts()) {
      let names: string[];
      try {
        names = await readdir(mnt);
      } catch {
        continue;
      }
      for (const n of names) {
        if (!UUID_RE.test(n)) continue;
        const d = new FileDomain(n, mnt);
        if (await exists(d.mdPath)) out.push(d);
      }
    }
    return out;
  }

  private async mounts(): Promise<string[]> {
    try {
      return (await readdir(this.mntRoot)).map((n) => join(this.mntRoot, n));
    } catch {
      return [];
    }
  }
}

export class DomainRegistry {
  private readonly cache = new Map<string, StorageDomain>();
  private readonly drivers = new Map<DriverName, DomainDriver>();

  constructor(mntRoot: string) {
    this.register(new FileDriver(mntRoot));
  }

  /** Adds (or replaces) the driver of one domain class. */
  register(driver: DomainDriver): void {
    this.drivers.set(driver.name, driver);
  }

  driver(name: DriverName): DomainDriver | undefined {
    return this.drivers.get(name);
  }

  /** The domain, or StorageDomainDoesNotExist. */
  async get(sdUUID: string): Promise<StorageDomain> {
    const d = await this.find(sdUUID);
    if (!d) throw new VdsmError("StorageDomainDoesNotExist", sdUUID);
    return d;
  }

  /**
   * The domain as a file domain, for the operations only the file driver implements yet
   * (volume data, image operations, the pool's master area); a block domain is refused with a
   * clear StorageDomainTypeError instead of a path error deep inside.
   */
  async getFile(sdUUID: string): Promise<FileDomain> {
    return asFile(await this.get(sdUUID));
  }

  async find(sdUUID: string): Promise<StorageDomain | undefined> {
    const cached = this.cache.get(sdUUID);
    if (cached && (await cached.present())) return cached;
    this.cache.delete(sdUUID);
    for (const drv of this.drivers.values()) {
      const d = await drv.find(sdUUID);
      if (d) {
        this.cache.set(sdUUID, d);
        return d;
      }
    }
    return undefined;
  }

  async findFile(sdUUID: string): Promise<FileDomain | undefined> {
    const d = await this.find(sdUUID);
    return d ? asFile(d) : undefined;
  }

  /** Every domain visible to any driver. */
  async all(): Promise<StorageDomain[]> {
    const out: StorageDomain[] = [];
    for (const drv of this.drivers.values()) {
      for (const d of await drv.all()) {
        this.cache.set(d.sdUUID, d);
        out.push(d);
      }
    }
    return out;
  }

  remember(d: StorageDomain): void {
    this.cache.set(d.sdUUID, d);
  }

  forget(sdUUID: string): void {
    this.cache.delete(sdUUID);
  }
}

/** Narrows to a file domain or refuses with StorageDomainTypeError. */
export function asFile(d: StorageDomain): FileDomain {
  if (d instanceof FileDomain) return d;
  throw new VdsmError("StorageDomainTypeError", `${d.sdUUID} is a ${d.driver} domain: this operation is implemented for file domains only so far`);
}
