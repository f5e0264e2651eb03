/**
 * The LUNs this host may use for block domains (VDSM's getDeviceList). On real hosts they are
 * multipath/iSCSI/FC devices; on this machine kind a LUN is a loop device over a file in one of
 * the configured LUN directories (VELA_NODE_LUN_DIRS), which keeps a node from ever touching a
 * disk it was not given. A LUN's GUID is stable across hosts: derived from the backing file's
 * real path, as a WWID is from the storage array. Loop devices that map a range of another
 * device (our LV data path) are not LUNs and are never listed.
 */
import { createHash } from "node:crypto";
import { readFile, realpath } from "node:fs/promises";
import { basename, sep } from "node:path";
import { VdsmError } from "@vela/protocol";
import { run } from "../../exec.js";
import type { Logger } from "../../log.js";
import { listLoops } from "./loops.js";

export const GUID_RE = /^[0-9a-z]{1,64}$/;

export interface Lun {
  guid: string;
  device: string;
  backingFile: string;
  size: number;
  logicalBlockSize: number;
  physicalBlockSize: number;
}

export function guidOf(backingFile: string): string {
  return `vela${createHash("sha1").update(backingFile).digest("hex").slice(0, 28)}`;
}

async function sysInt(path: string): Promise<number> {
  return Number((await readFile(path, "utf8")).trim());
}

export class LunScanner {
  constructor(
    private readonly log: Logger,
    private readonly lunDirs: readonly string[],
  ) {}

  /** Loop devices over whole files under a LUN directory. */
  async list(): Promise<Lun[]> {
    if (!this.lunDirs.length) return [];
    const dirs = await Promise.all(this.lunDirs.map((d) => realpath(d).catch(() => undefined)));
    const roots = dirs.filter((d): d is string => !!d).map((d) => (d.endsWith(sep) ? d : d + sep));
    const luns: Lun[] = [];
    for (const r of await listLoops()) {
      const back = r.backFile.replace(/ \(deleted\)$/, "");
      if (!back || r.offset !== 0 || r.sizelimit !== 0) continue;
      if (!roots.some((root) => back.startsWith(root))) continue;
      if (!/^\/dev\/loop\d+$/.test(r.name)) continue;
      const name = basename(r.name);
      try {
        luns.push({
          guid: guidOf(back),
          device: r.name,
          backingFile: back,
          size: (await sysInt(`/sys/block/${name}/size`)) * 512,
          logicalBlockSize: await sysInt(`/sys/block/${name}/queue/logical_block_size`),
          physicalBlockSize: await sysInt(`/sys/block/${name}/queue/physical_block_size`),
        });
      } catch {
        // detached while we looked: not a LUN any more
      }
    }
    return luns.sort((a, b) => a.guid.localeCompare(b.guid));
  }

  async byGuid(guid: string): Promise<Lun> {
    const l = (await this.list()).find((x) => x.guid === guid);
    if (!l) throw new VdsmError("BlockDeviceActionError", `no LUN ${guid} on this host`);
    return l;
  }

  /** True when the device holds any signature blkid knows (a file system, a PV, a partition table). */
  async hasSignature(device: string): Promise<boolean> {
    try {
      const r = await run(["blkid", "--probe", "--output", "value", "--match-tag", "TYPE", device], { log: this.log, timeoutMs: 30_000 });
      return r.stdout.trim().length > 0;
    } catch {
      return false; // blkid exits 2 when it finds nothing
    }
  }
}
