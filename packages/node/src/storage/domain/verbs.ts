/**
 * Storage-domain verbs: storage server connections (connect/disconnectStorageServer), creating a
 * file or block domain, its info and stats, the domains and images this host sees, and formatting
 * a domain no connected pool uses. Validation of the request shape is the verb table's; here are
 * the rules that need the storage (kinds, classes, an existing domain). Never lets a request value
 * reach a path except a validated UUID or a connection string connection.ts allowed.
 */
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { BLANK_UUID, type DomainInfo, LvmUuid, VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../../api/handlers.js";
import type { StorageDeps } from "../deps.js";
import { isDir } from "../fileutil.js";
import { SPM_LEASE_OFFSET } from "../spm/spm.js";
import { BlockDomain } from "./block.js";
import { typeName } from "./connection.js";
import { poolsOf } from "./file.js";
import { asFile, FileDomain } from "./index.js";

const CLASS_NAMES = { 1: "Data", 2: "Iso", 3: "Backup" } as const;
const FILE_TYPES = new Set(["NFS", "LOCALFS", "POSIXFS"]);
const BLOCK_TYPES = new Set(["FCP", "ISCSI"]);

export function domainVerbs(d: StorageDeps): PartialHandlers {
  const { conns, domains, block, lock, monitor } = d;
  const log = d.ctx.log;
  return {
    connectStorageServer: async ({ domType, conList }) => ({ statuslist: await conns.connect(domType, conList) }),
    disconnectStorageServer: async ({ domType, conList }) => ({ statuslist: await conns.disconnect(domType, conList) }),
    discoverSendTargets: async ({ con }) => ({ fullTargets: await conns.iscsi.discover(con) }),

    createStorageDomain: async (a) => {
      const kind = typeName(a.storageType);
      const isBlock = BLOCK_TYPES.has(kind);
      if (!FILE_TYPES.has(kind) && !isBlock) throw new VdsmError("StorageDomainTypeError", `${kind} domains are not supported on this node yet`);
      if (a.domVersion !== 5) throw new VdsmError("UnsupportedDomainVersion", String(a.domVersion));
      const blockSize = a.blockSize === 0 ? 512 : a.blockSize;
      if (blockSize !== 512 && blockSize !== 4096) throw new VdsmError("InvalidParameter", `blockSize ${a.blockSize}`);
      const domClass = CLASS_NAMES[a.domClass as 1 | 2 | 3];
      if (!domClass) throw new VdsmError("StorageDomainClassError", String(a.domClass));
      if (!a.domainName || /[\n\r\0]/.test(a.domainName)) throw new VdsmError("InvalidParameter", "domainName");
      if (isBlock) {
        // typeSpecificArg is the VG's LVM UUID (createVG's answer), as in VDSM.
        const vgUUID = LvmUuid.safeParse(a.typeSpecificArg);
        if (!vgUUID.success) throw new VdsmError("InvalidParameter", "typeSpecificArg: not an LVM VG UUID");
        if (await domains.find(a.sdUUID)) throw new VdsmError("StorageDomainAlreadyExists", a.sdUUID);
        await block.createDomain({ sdUUID: a.sdUUID, vgUUID: vgUUID.data, name: a.domainName, type: kind as "FCP" | "ISCSI", domClass, version: a.domVersion, blockSize });
        return {};
      }
      const remote = conns.checkConnection(kind, { connection: a.typeSpecificArg });
      const mnt = conns.mountPointOf(kind, remote);
      if (!(await isDir(mnt))) throw new VdsmError("StorageDomainFSNotMounted", remote);
      if (await domains.find(a.sdUUID)) throw new VdsmError("StorageDomainAlreadyExists", a.sdUUID);
      const d = await FileDomain.create({
        mountPoint: mnt,
        sdUUID: a.sdUUID,
        name: a.domainName,
        remotePath: remote,
        type: kind as "NFS" | "LOCALFS" | "POSIXFS",
        domClass,
        version: a.domVersion,
        blockSize,
      });
      await lock.init(d.leasesPath(), SPM_LEASE_OFFSET);
      domains.remember(d);
      log.info({ sdUUID: a.sdUUID, kind, remote }, "storage domain created");
      return {};
    },

    getStorageDomainInfo: async ({ sdUUID }) => {
      const dom = await domains.get(sdUUID);
      const md = await dom.metadata();
      const info: DomainInfo = {
        uuid: sdUUID,
        type: md.TYPE,
        class: md.CLASS,
        name: md.DESCRIPTION,
        role: md.ROLE,
        pool: poolsOf(md),
        version: md.VERSION,
        block_size: Number(md.BLOCK_SIZE ?? 512),
        alignment: Number(md.ALIGNMENT ?? 1048576),
        remotePath: md.REMOTE_PATH ?? "",
        ...(md.VGUUID ? { vguuid: md.VGUUID } : {}),
      };
      if (md.ROLE === "Master") {
        Object.assign(info, { lver: md.POOL_SPM_LVER, spm_id: md.POOL_SPM_ID, master_ver: md.MASTER_VERSION });
      }
      return { info };
    },

    getStorageDomainStats: async ({ sdUUID }) => {
      const dom = await domains.get(sdUUID);
      const md = await dom.metadata();
      let sp: Awaited<ReturnType<typeof dom.space>> | undefined;
      try {
        sp = await dom.space();
      } catch (err) {
        throw new VdsmError("StorageDomainAccessError", `${sdUUID}: ${(err as Error).message}`);
      }
      return {
        stats: {
          disktotal: String(sp.total),
          diskfree: String(sp.free),
          mdavalid: true,
          mdathreshold: true,
          mdasize: 0,
          mdafree: 0,
          block_size: Number(md.BLOCK_SIZE ?? 512),
          fs_block_size: sp.blockSize,
          alerts: [],
          ...monitor.statsOf(sdUUID),
        },
      };
    },

    getStorageDomainsList: async ({ spUUID }) => {
      const all = await domains.all();
      if (spUUID === BLANK_UUID) return { domlist: all.map((sd) => sd.sdUUID) };
      const out: string[] = [];
      for (const sd of all) {
        const md = await sd.metadata().catch(() => undefined);
        if (md && poolsOf(md).includes(spUUID)) out.push(sd.sdUUID);
      }
      return { domlist: out };
    },

    getImagesList: async ({ sdUUID }) => ({ imageslist: await (await domains.get(sdUUID)).listImages() }),

    formatStorageDomain: async ({ sdUUID, autoDetach }) => {
      const any = await domains.get(sdUUID);
      const md = await any.metadata({ fresh: true });
      const pools = poolsOf(md);
      for (const p of d.pools.all()) if (pools.includes(p.spUUID)) throw new VdsmError("CannotFormatAttachedStorageDomain", `${sdUUID} is in connected pool ${p.spUUID}`);
      if (pools.length && !autoDetach) throw new VdsmError("CannotFormatAttachedStorageDomain", `${sdUUID} is in ${pools.join(",")}`);
      if (any instanceof BlockDomain) {
        await any.format();
        domains.forget(sdUUID);
        return {};
      }
      const dom = asFile(any);
      // Rename first: a half-removed tree must never look like a domain.
      const trash = join(dom.mountPoint, `_remove_me_${sdUUID}`);
      await rename(dom.dir, trash);
      domains.forget(sdUUID);
      await rm(trash, { recursive: true, force: true });
      return {};
    },
  };
}
