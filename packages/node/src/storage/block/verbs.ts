/**
 * Block storage on this host (VDSM's blockSD/lvm verbs): the LUNs it may use (getDeviceList),
 * volume groups on them (createVG, getVGInfo), block domains on a VG (createStorageDomain with
 * type FCP or ISCSI), and the block domain driver registered with the domain registry. LUNs are
 * only ever named by GUID from our own scan, never by a device path from a request.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { CreateVgResult, DeviceListResult, type LunInfo, VdsmError, VgInfoResult } from "@vela/protocol";
import type { NodeContext } from "../../api/context.js";
import type { PartialHandlers } from "../../api/handlers.js";
import { BlockDomain, type BlockEnv } from "../domain/block.js";
import { BlockDriver } from "../domain/block-driver.js";
import { SD_UNREADY_TAG, SPECIAL_LVS } from "./vgtags.js";
import type { DomainRegistry } from "../domain/index.js";
import { type DataPath, DmDataPath, LoopDataPath } from "./datapath.js";
import { type Lun, LunScanner } from "./devices.js";
import { formatMaster } from "./hostview.js";
import { Lvm, type PvInfo } from "./lvm.js";

const MiB = 2 ** 20;
/** Smallest LUN a domain can live on: the special LVs (VDSM's sizes) plus one 128 MiB extent. */
export const MIN_LUN_BYTES = SPECIAL_LVS.reduce((n, [, mib]) => n + Math.ceil(mib / 128) * 128 * MiB, 0) + 128 * MiB + 129 * MiB;

export interface BlockStorage {
  env: BlockEnv;
  dataPath: DataPath;
  luns: LunScanner;
  handlers: PartialHandlers;
  createDomain(a: { sdUUID: string; vgUUID: string; name: string; type: "FCP" | "ISCSI"; domClass: "Data" | "Iso" | "Backup"; version: number; blockSize: number }): Promise<BlockDomain>;
}

export function createBlockStorage(ctx: NodeContext, domains: DomainRegistry): BlockStorage {
  const log = ctx.log.child({ sub: "block" });
  const luns = new LunScanner(log, ctx.config.lunDirs);
  const lvm = new Lvm(log, async () => (await luns.list()).map((l) => l.device), ctx.config.blockDataPath === "device-mapper", join(ctx.config.runDir, "lvm"));
  const dataPath: DataPath = ctx.config.blockDataPath === "device-mapper" ? new DmDataPath(lvm) : new LoopDataPath(log);
  const env: BlockEnv = { lvm, dataPath, root: join(ctx.config.runDir, "blockSD"), log };
  domains.register(new BlockDriver(env));
  // iSCSI (domain/iscsi.ts) needs the kernel's initiator; say at start when it is missing.
  if (!existsSync("/sys/module/iscsi_tcp")) log.info("this kernel has no iscsi_tcp loaded: iSCSI discovery and logins will be refused (iSCSISetupError) unless modprobe iscsi_tcp succeeds");
  if (!ctx.config.lunDirs.length) log.info("no LUN directories configured (VELA_NODE_LUN_DIRS): no block storage on this host");
  else log.info({ lunDirs: ctx.config.lunDirs, dataPath: dataPath.kind }, "block storage: LUNs are loop devices over files in these directories");

  function lunInfo(l: Lun, pv: PvInfo | undefined, vgUUIDs: Map<string, string>, used: boolean): LunInfo {
    return {
      GUID: l.guid,
      capacity: String(l.size),
      vendorID: "VELA",
      productID: "LOOP-LUN",
      serial: l.guid,
      status: used ? "used" : "free",
      devtype: "FCP",
      pvUUID: pv?.uuid ?? "",
      vgUUID: pv?.vgName ? (vgUUIDs.get(pv.vgName) ?? "") : "",
      pvsize: pv ? String(pv.size) : "",
      logicalblocksize: String(l.logicalBlockSize),
      physicalblocksize: String(l.physicalBlockSize),
      pathstatus: [{ physdev: l.device.replace(/^\/dev\//, ""), state: "active" }],
    };
  }

  async function describe(only?: readonly string[]): Promise<LunInfo[]> {
    const all = await luns.list();
    const want = only ? all.filter((l) => only.includes(l.guid)) : all;
    if (!want.length) return [];
    const pvs = await lvm.pvs();
    const vgUUIDs = new Map((await lvm.vgs()).map((v) => [v.name, v.uuid]));
    const out: LunInfo[] = [];
    for (const l of want) {
      const pv = pvs.find((p) => p.name === l.device);
      out.push(lunInfo(l, pv, vgUUIDs, !!pv || (await luns.hasSignature(l.device))));
    }
    return out;
  }

  /**
   * A failed createStorageDomain leaves no VG behind (VDSM's removeVG): the VG createVG made for
   * it goes, with its PV label, so the LUN is free again. Only ever a VG of this domain's name.
   */
  async function removeUnreadyVg(sdUUID: string, vgUUID: string): Promise<void> {
    const vg = await lvm.vg(sdUUID).catch(() => undefined);
    // Only a VG createVG made for this domain and still UNREADY: never a VG someone else made.
    if (!vg || vg.uuid !== vgUUID || !vg.tags.includes(SD_UNREADY_TAG)) return;
    const pvs = (await lvm.pvs()).filter((p) => p.vgName === vg.name).map((p) => p.name);
    for (const lv of await lvm.lvs(vg.name).catch(() => [])) {
      const r = await new BlockDomain(sdUUID, env).range(lv.name).catch(() => undefined);
      if (r) await dataPath.deactivate(vg.name, lv.name, r).catch(() => {});
    }
    await lvm.cmd(["vgremove", "--force", "--yes", vg.name], "VolumeGroupRemoveError").catch((err) => log.warn({ err: String(err), vg: vg.name }, "vgremove after a failed create"));
    for (const pv of pvs) await lvm.cmd(["pvremove", "--yes", pv], "PhysDevInitializationError").catch(() => {});
  }

  const handlers: PartialHandlers = {
    getDeviceList: async ({ guids }) => DeviceListResult.parse({ devList: await describe(guids) }),

    createVG: async ({ vgname, devlist, force }) => {
      if (devlist.length !== 1) throw new VdsmError("VolumeGroupCreateError", "one LUN per volume group is supported today");
      const [info] = await describe(devlist);
      if (!info) throw new VdsmError("BlockDeviceActionError", `no LUN ${devlist[0]} on this host`);
      const lun = await luns.byGuid(info.GUID);
      if (info.status === "used" && !(force && !info.vgUUID)) throw new VdsmError("PhysDevInitializationError", `LUN ${info.GUID} is in use${info.vgUUID ? ` by VG ${info.vgUUID}` : ""}`);
      if (lun.size < MIN_LUN_BYTES) throw new VdsmError("VolumeGroupSizeError", `LUN ${info.GUID} has ${lun.size} bytes; a domain needs at least ${MIN_LUN_BYTES}`);
      if (await lvm.vg(vgname)) throw new VdsmError("VolumeGroupAlreadyExistsError", vgname);
      await lvm.pvcreate(lun.device);
      try {
        await lvm.vgcreate(vgname, lun.device, SD_UNREADY_TAG);
      } catch (err) {
        // No half-made PV left behind: the LUN stays free.
        await lvm.cmd(["pvremove", "--yes", lun.device]).catch(() => {});
        throw err;
      }
      const vg = await lvm.vg(vgname);
      if (!vg) throw new VdsmError("VolumeGroupCreateError", `${vgname} vanished after vgcreate`);
      log.info({ vg: vgname, lun: info.GUID }, "volume group created");
      return CreateVgResult.parse({ uuid: vg.uuid });
    },

    getVGInfo: async ({ vgUUID }) => {
      const vg = (await lvm.vgs()).find((v) => v.uuid === vgUUID);
      if (!vg) throw new VdsmError("VolumeGroupDoesNotExist", vgUUID);
      const pvDevs = (await lvm.pvs()).filter((p) => p.vgName === vg.name).map((p) => p.name);
      const pvlist = (await describe()).filter((l) => pvDevs.includes(`/dev/${l.pathstatus[0]?.physdev}`));
      const a = vg.attr.padEnd(6, "-");
      return VgInfoResult.parse({
        info: {
          name: vg.name,
          vgUUID: vg.uuid,
          vgsize: String(vg.size),
          vgfree: String(vg.free),
          type: 2,
          attr: { permission: a[0]!, resizeable: a[1]!, exported: a[2]!, partial: a[3]!, allocation: a[4]!, clustered: a[5]! },
          state: pvlist.length === pvDevs.length ? "OK" : "PARTIAL",
          pvlist,
        },
      });
    },
  };

  return {
    env,
    dataPath,
    luns,
    handlers,
    async createDomain(a) {
      const list = await luns.list();
      let d: BlockDomain;
      try {
        d = await BlockDomain.create(env, { ...a, guidOf: (dev) => list.find((l) => l.device === dev)?.guid });
        await formatMaster(log, d);
      } catch (err) {
        await removeUnreadyVg(a.sdUUID, a.vgUUID);
        throw err;
      }
      domains.remember(d);
      log.info({ sdUUID: a.sdUUID, vgUUID: a.vgUUID }, "block storage domain created");
      return d;
    },
  };
}
