/**
 * The block domain driver: finds this host's block domains (VGs named by a domain UUID and
 * tagged as storage domains) and keeps one BlockDomain object per domain for the agent's life.
 */
import { UUID_RE } from "@vela/protocol";
import type { VgInfo } from "../block/lvm.js";
import { SD_TAG } from "../block/vgtags.js";
import { BlockDomain, type BlockEnv } from "./block.js";
import type { DomainDriver } from "./driver.js";

/** Block domains: VGs named by a domain UUID and tagged RHAT_storage_domain on this host's LUNs. */
export class BlockDriver implements DomainDriver<BlockDomain> {
  readonly name = "block" as const;
  /** One object per domain for the agent's life, so its VG view (and what it saved) is shared. */
  private readonly doms = new Map<string, BlockDomain>();
  constructor(readonly env: BlockEnv) {}

  private instance(sdUUID: string): BlockDomain {
    let d = this.doms.get(sdUUID);
    if (!d) {
      d = new BlockDomain(sdUUID, this.env);
      this.doms.set(sdUUID, d);
    }
    return d;
  }

  async find(sdUUID: string): Promise<BlockDomain | undefined> {
    if (!UUID_RE.test(sdUUID)) return undefined;
    const d = this.instance(sdUUID);
    if (await d.present()) return d;
    this.doms.delete(sdUUID);
    return undefined;
  }

  async all(): Promise<BlockDomain[]> {
    const vgs = await this.env.lvm.vgs().catch(() => [] as VgInfo[]);
    return vgs.filter((v) => v.tags.includes(SD_TAG) && UUID_RE.test(v.name)).map((v) => this.instance(v.name));
  }
}
