/**
 * Finds storage domains on this host: every connected mount under `<runDir>/data-center/mnt`
 * is scanned for `<sdUUID>/dom_md/metadata` (VDSM's sdCache did the same). Domain kinds are
 * registered here in one place; file domains today, block (LVM) ones plug in beside them.
 * Never trusts a cached location without checking the metadata file is still there.
 */
import { UUID_RE, VdsmError } from "@vela/protocol";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "../fileutil.js";
import { FileDomain } from "./file.js";

export { FileDomain } from "./file.js";
export type StorageDomain = FileDomain;

export class DomainRegistry {
  private readonly cache = new Map<string, FileDomain>();

  constructor(private readonly mntRoot: string) {}

  /** The domain, or StorageDomainDoesNotExist. */
  async get(sdUUID: string): Promise<FileDomain> {
    const d = await this.find(sdUUID);
    if (!d) throw new VdsmError("StorageDomainDoesNotExist", sdUUID);
    return d;
  }

  async find(sdUUID: string): Promise<FileDomain | undefined> {
    const cached = this.cache.get(sdUUID);
    if (cached && (await exists(cached.mdPath))) return cached;
    this.cache.delete(sdUUID);
    for (const mnt of await this.mounts()) {
      const d = new FileDomain(sdUUID, mnt);
      if (await exists(d.mdPath)) {
        this.cache.set(sdUUID, d);
        return d;
      }
    }
    return undefined;
  }

  /** Every domain visible on connected mounts. */
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
        if (await exists(d.mdPath)) {
          this.cache.set(n, d);
          out.push(d);
        }
      }
    }
    return out;
  }

  remember(d: FileDomain): void {
    this.cache.set(d.sdUUID, d);
  }

  forget(sdUUID: string): void {
    this.cache.delete(sdUUID);
  }

  private async mounts(): Promise<string[]> {
    try {
      return (await readdir(this.mntRoot)).map((n) => join(this.mntRoot, n));
    } catch {
      return [];
    }
  }
}
