/**
 * A block storage domain (FCP, ISCSI) in VDSM's layout: a volume group named sdUUID on shared
 * LUNs, the domain metadata in VG tags `MDT_<KEY>=<VALUE>` (sealed by `MDT__SHA_CKSUM`), the
 * special LVs (`metadata`, `ids`, `inbox`, `outbox`, `leases`, `xleases`, `master`), and each
 * volume an LV named by its UUID with tags `IU_<image>`, `PU_<parent>`, `MD_<slot>`; its metadata
 * lives in slot `<slot>` (8 KiB at 1 MiB + slot × 8 KiB) of the `metadata` LV. Every LV the
 * driver makes is one segment on extents it chooses itself, so any data path (device-mapper or a
 * loop device over the PV range) can map it. Never changes the VG except through lvm with a
 * validated name, and never writes a slot another LV's `MD_` tag claims.
 */
import { mkdir, open, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { BLANK_UUID, UUID_RE, VdsmError } from "@vela/protocol";
import type { DataPath, LvRange } from "../block/datapath.js";
import { ensureHostView, mountMaster, unmountMaster } from "../block/hostview.js";
import { freeRun } from "../block/layout.js";
import { type LvInfo, type Lvm, MiB, type VgInfo } from "../block/lvm.js";
import { domainChecksum, type Md, parseVolumeMd, type VolumeMd, formatVolumeMd, VOLUME_MD_MAX } from "../metadata.js";
import type { Logger } from "../../log.js";
import { Mutex } from "../sync.js";
import { type CreateBlockDomainArgs, layOutDomain } from "../block/create.js";
import { extentsFor, INITIALIZING_TAG, mdFromTags, MDT_PREFIX, REMOVED_IMAGE_PREFIX, SD_TAG, SLOT_BASE, SLOT_SIZE, SPECIAL_LVS, tagsFromMd } from "../block/vgtags.js";
import type { DomainDriver, DomainSpace, StorageDomain } from "./driver.js";

const SPECIAL_NAMES = new Set(SPECIAL_LVS.map(([n]) => n));
/** A domain seen this recently is not looked up again (the registry's presence check). */
const PRESENT_TTL_MS = 5000;

/** What the domain needs from its host: lvm and where its host view lives. */
export interface BlockEnv {
  lvm: Lvm;
  /** How LVs become devices on this host (device-mapper or loop). */
  dataPath: DataPath;
  /** `<runDir>/blockSD`: the per-domain directory with dom_md links to LV devices. */
  root: string;
  log: Logger;
}

function tagValue(lv: LvInfo, prefix: string): string | undefined {
  return lv.tags.find((t) => t.startsWith(prefix))?.slice(prefix.length);
}

export { freeRun };

export class BlockDomain implements StorageDomain {
  readonly driver = "block" as const;
  readonly dir: string;
  readonly mdDir: string;
  private readonly mdLock = new Mutex();
  private readonly slotLock = new Mutex();

  constructor(
    readonly sdUUID: string,
    readonly env: BlockEnv,
  ) {
    this.dir = join(env.root, sdUUID);
    this.mdDir = join(this.dir, "dom_md");
  }

  get lvm(): Lvm {
    return this.env.lvm;
  }

  /** Turns a VG made by createVG (tagged UNREADY, named sdUUID) into a domain (block/create.ts). */
  static async create(env: BlockEnv, a: CreateBlockDomainArgs): Promise<BlockDomain> {
    await layOutDomain(env.lvm, a);
    return new BlockDomain(a.sdUUID, env);
  }

  async vg(): Promise<VgInfo> {
    const vg = await this.lvm.vg(this.sdUUID);
    if (!vg || !vg.tags.includes(SD_TAG)) throw new VdsmError("StorageDomainDoesNotExist", this.sdUUID);
    return vg;
  }

  /** When the VG was last seen as a domain: each lvm call costs ~0.1–1 s, and lookups are frequent. */
  private seenAt = 0;
  /** The `metadata` LV's place: special LVs never move or grow, so it is read once. */
  private mdRange?: LvRange;

  async present(): Promise<boolean> {
    if (Date.now() - this.seenAt < PRESENT_TTL_MS) return true;
    try {
      await this.vg();
    } catch {
      return false;
    }
    this.seenAt = Date.now();
    return true;
  }

  async metadata(_opts: { fresh?: boolean } = {}): Promise<Md> {
    // LVM reads the VG metadata from the PV on every command: always fresh.
    const { md, checksum } = mdFromTags((await this.vg()).tags);
    if (checksum !== undefined && checksum !== domainChecksum(md)) {
      throw new VdsmError("MetaDataSealIsBroken", `VG tags of ${this.sdUUID}: stored ${checksum}, computed ${domainChecksum(md)}`);
    }
    if (md.SDUUID && md.SDUUID !== this.sdUUID) throw new VdsmError("MetaDataValidationError", `VG ${this.sdUUID} holds metadata of ${md.SDUUID}`);
    return md;
  }

  async update(changes: Record<string, string | null>): Promise<Md> {
    return this.mdLock.run(async () => {
      const vg = await this.vg();
      const md = await this.metadata();
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete md[k];
        else md[k] = v;
      }
      const old = vg.tags.filter((t) => t.startsWith(MDT_PREFIX));
      const nu = tagsFromMd(md);
      await this.lvm.vgtags(this.sdUUID, nu.filter((t) => !old.includes(t)), old.filter((t) => !nu.includes(t)));
      return md;
    });
  }

  /** Volume LVs (every LV but the special ones). */
  async volumeLvs(): Promise<LvInfo[]> {
    return (await this.lvm.lvs(this.sdUUID)).filter((lv) => !SPECIAL_NAMES.has(lv.name) && UUID_RE.test(lv.name));
  }

  async listImages(): Promise<string[]> {
    const imgs = new Set<string>();
    for (const lv of await this.volumeLvs()) {
      const img = tagValue(lv, "IU_");
      if (img && UUID_RE.test(img)) imgs.add(img);
    }
    return [...imgs].sort();
  }

  async listVolumes(imgUUID: string): Promise<string[]> {
    const vols = (await this.volumeLvs()).filter((lv) => tagValue(lv, "IU_") === imgUUID).map((lv) => lv.name);
    if (!vols.length) throw new VdsmError("ImageDoesNotExistInSD", `${imgUUID} in ${this.sdUUID}`);
    return vols.sort();
  }

  async hasImage(imgUUID: string): Promise<boolean> {
    return (await this.listImages()).includes(imgUUID);
  }

  async space(): Promise<DomainSpace> {
    const vg = await this.vg();
    return { total: vg.size, free: vg.free, blockSize: 512 };
  }

  /** Where an LV's bytes are; refuses an LV in more than one segment (no data path maps it). */
  async range(lvName: string, lvs?: LvInfo[]): Promise<LvRange> {
    const lv = (lvs ?? (await this.lvm.lvs(this.sdUUID))).find((l) => l.name === lvName);
    if (!lv) throw new VdsmError("LogicalVolumeDoesNotExistError", `${this.sdUUID}/${lvName}`);
    const seg = lv.segments[0];
    if (!seg || lv.segments.length !== 1) throw new VdsmError("CannotAccessLogicalVolume", `${this.sdUUID}/${lvName} is in ${lv.segments.length} segments`);
    const g = await this.geometry(seg.pv);
    return { pv: seg.pv, peStart: g.peStart, extentSize: g.extentSize, first: seg.first, count: seg.last - seg.first + 1 };
  }

  /** Extent size and a PV's first extent: fixed for the VG's life, so read once per PV. */
  private readonly geo = new Map<string, { peStart: number; extentSize: number }>();
  private async geometry(pvName: string): Promise<{ peStart: number; extentSize: number }> {
    const have = this.geo.get(pvName);
    if (have) return have;
    const vg = await this.vg();
    const pv = (await this.lvm.pvs()).find((p) => p.name === pvName);
    if (!pv) throw new VdsmError("InaccessiblePhysDev", pvName);
    const g = { peStart: pv.peStart, extentSize: vg.extentSize };
    this.geo.set(pvName, g);
    return g;
  }

  async volumeLv(imgUUID: string, volUUID: string): Promise<{ lv: LvInfo; slot: number }> {
    const lv = (await this.volumeLvs()).find((l) => l.name === volUUID);
    if (!lv) throw new VdsmError("VolumeDoesNotExist", `${volUUID} in image ${imgUUID} of ${this.sdUUID}`);
    const img = tagValue(lv, "IU_");
    if (img !== imgUUID) throw new VdsmError("VolumeDoesNotExist", `${volUUID} is in image ${img} of ${this.sdUUID}, not ${imgUUID}`);
    const slot = Number(tagValue(lv, "MD_"));
    if (!Number.isInteger(slot) || slot < 0) throw new VdsmError("MissingTagOnLogicalVolume", `${volUUID}: MD_ tag`);
    return { lv, slot };
  }

  private async slotOffset(slot: number): Promise<{ pv: string; offset: number }> {
    this.mdRange ??= await this.range("metadata");
    const r = this.mdRange;
    if ((slot + 1) * SLOT_SIZE + SLOT_BASE > r.count * r.extentSize) throw new VdsmError("MetadataOverflowError", `slot ${slot}`);
    return { pv: r.pv, offset: r.peStart + r.first * r.extentSize + SLOT_BASE + slot * SLOT_SIZE };
  }

  async readSlot(slot: number): Promise<Buffer> {
    const { pv, offset } = await this.slotOffset(slot);
    const fh = await open(pv, "r");
    try {
      const buf = Buffer.alloc(VOLUME_MD_MAX);
      await fh.read(buf, 0, VOLUME_MD_MAX, offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** One 512-byte write, NUL padded, synced before it returns. */
  async writeSlot(slot: number, text: string | null): Promise<void> {
    const { pv, offset } = await this.slotOffset(slot);
    const buf = Buffer.alloc(VOLUME_MD_MAX);
    if (text !== null) {
      const b = Buffer.from(text, "utf8");
      if (b.length > VOLUME_MD_MAX) throw new VdsmError("MetadataOverflowError", `${b.length} bytes`);
      b.copy(buf);
    }
    const fh = await open(pv, "r+");
    try {
      await fh.write(buf, 0, VOLUME_MD_MAX, offset);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  async readVolumeMeta(imgUUID: string, volUUID: string): Promise<VolumeMd> {
    const { slot } = await this.volumeLv(imgUUID, volUUID);
    const text = (await this.readSlot(slot)).toString("utf8").replace(/\0+$/, "");
    if (!text.trim()) throw new VdsmError("MetadataCleared", `${volUUID}: slot ${slot} is empty`);
    return parseVolumeMd(text, `metadata of volume ${volUUID} (slot ${slot})`);
  }

  async writeVolumeMeta(imgUUID: string, volUUID: string, md: VolumeMd): Promise<void> {
    const { lv, slot } = await this.volumeLv(imgUUID, volUUID);
    await this.writeSlot(slot, formatVolumeMd(md));
    // The first metadata write ends the create: the LV is no longer garbage if its creator dies.
    if (lv.tags.includes(INITIALIZING_TAG)) await this.finishVolume(volUUID);
  }

  async createVolumeArea(imgUUID: string, volUUID: string, parentUUID: string, bytes: number): Promise<void> {
    const slot = await this.createVolumeLv(imgUUID, volUUID, parentUUID, bytes);
    // A slot freed by an earlier volume may still hold its text: clear it before anyone reads it.
    await this.writeSlot(slot, null);
  }

  async removeVolumeArea(imgUUID: string, volUUID: string): Promise<void> {
    const lv = (await this.volumeLvs()).find((l) => l.name === volUUID);
    if (!lv) return;
    await this.teardownVolume(imgUUID, volUUID);
    await this.removeVolumeLv(imgUUID, volUUID);
  }

  /** `<dir>/images/<img>/<vol>` → the LV's device, so qcow2 backing names resolve in the image dir. */
  private linkPath(imgUUID: string, volUUID: string): string {
    return join(this.dir, "images", imgUUID, volUUID);
  }

  async prepareVolume(imgUUID: string, volUUID: string): Promise<string> {
    await this.volumeLv(imgUUID, volUUID);
    const dev = await this.env.dataPath.activate(this.sdUUID, volUUID, await this.range(volUUID));
    const link = this.linkPath(imgUUID, volUUID);
    await mkdir(join(this.dir, "images", imgUUID), { recursive: true, mode: 0o755 });
    await rm(link, { force: true });
    await symlink(dev, link);
    return link;
  }

  async teardownVolume(imgUUID: string, volUUID: string): Promise<void> {
    const r = await this.range(volUUID).catch(() => undefined);
    if (r) await this.env.dataPath.deactivate(this.sdUUID, volUUID, r);
    await rm(this.linkPath(imgUUID, volUUID), { force: true });
  }

  async volumeAreaSize(imgUUID: string, volUUID: string): Promise<number> {
    return (await this.volumeLv(imgUUID, volUUID)).lv.size;
  }

  /**
   * Grows a volume's LV in place to at least `bytes` (metadata only: lvextend onto the extents
   * right after its last one) and refreshes its device here. Refuses when those extents belong
   * to another LV or lie past the PV's end: the LV would become two segments, which no data path
   * without device-mapper can map.
   */
  async extendVolumeArea(imgUUID: string, volUUID: string, bytes: number): Promise<number> {
    return this.slotLock.run(async () => {
      await this.volumeLv(imgUUID, volUUID);
      return this.growLocked(volUUID, bytes);
    });
  }

  /** The grow itself, under slotLock: one lvs (the truth), then lvextend onto the next extents. */
  private async growLocked(volUUID: string, bytes: number): Promise<number> {
    const lvs = await this.lvm.lvs(this.sdUUID);
    const vg = await this.vg();
    const want = extentsFor(bytes, vg.extentSize);
    const r = await this.range(volUUID, lvs);
    if (want <= r.count) {
      this.places.set(volUUID, { ...(await this.placeOf(volUUID, lvs)), range: r });
      return r.count * r.extentSize;
    }
    const from = r.first + r.count;
    const to = r.first + want - 1;
    if (to >= vg.extentCount) throw new VdsmError("VolumeGroupSizeError", `${this.sdUUID}/${volUUID}: growing to ${want} extents passes the end of the PV (${vg.freeCount} extents free in the VG)`);
    const blocker = lvs.find((l) => l.name !== volUUID && l.segments.some((sg) => sg.first <= to && sg.last >= from));
    if (blocker) {
      if (vg.freeCount < want - r.count) throw new VdsmError("VolumeGroupSizeError", `${this.sdUUID}/${volUUID}: the VG has ${vg.freeCount} free extents, ${want - r.count} needed`);
      throw new VdsmError("LogicalVolumeExtendError", `${this.sdUUID}/${volUUID} cannot grow in place: extents ${from}-${to} hold ${blocker.name}`);
    }
    await this.lvm.lvextend(this.sdUUID, volUUID, r.pv, want, from, to);
    const grown = { ...r, count: want };
    this.places.set(volUUID, { ...(await this.placeOf(volUUID, lvs)), range: grown });
    await this.env.dataPath.refresh(this.sdUUID, volUUID, grown);
    return want * vg.extentSize;
  }

  /** Image and metadata slot of a volume LV, from its tags. */
  private async placeOf(volUUID: string, lvs: LvInfo[]): Promise<{ img: string; slot: number }> {
    const lv = lvs.find((l) => l.name === volUUID);
    const img = lv && tagValue(lv, "IU_");
    const slot = lv ? Number(tagValue(lv, "MD_")) : Number.NaN;
    if (!lv || !img || !Number.isInteger(slot)) throw new VdsmError("VolumeDoesNotExist", `${volUUID} in ${this.sdUUID}`);
    return { img, slot };
  }

  /**
   * Where this SPM last saw each volume LV it grew (LVs never move; only the SPM changes them, and
   * a new SPM starts with none): lets a thin extension run one lvm command (lvextend) instead of
   * five. A stale entry (the LV removed, or grown by another path) makes lvextend fail, and the
   * grow is redone from a fresh `lvs`.
   */
  private readonly places = new Map<string, { img: string; slot: number; range: LvRange }>();

  /**
   * The SPM's thin extension (an `xtnd` request, or the SPM's own VM): the volume must be LEGAL;
   * grows its LV in place to `sizeMiB`, never past VDSM's cap for a thin volume (capacity × 1.1),
   * and answers the size granted in MiB. Fast path: the cached place, its metadata slot read
   * directly, one lvextend; any surprise falls back to the full check.
   */
  async extendThin(volUUID: string, sizeMiB: number): Promise<number> {
    return this.slotLock.run(async () => {
      let place = this.places.get(volUUID);
      if (!place) {
        const lvs = await this.lvm.lvs(this.sdUUID);
        place = { ...(await this.placeOf(volUUID, lvs)), range: await this.range(volUUID, lvs) };
        this.places.set(volUUID, place);
      }
      const text = (await this.readSlot(place.slot)).toString("utf8").replace(/\0+$/, "");
      const md = text.trim() ? parseVolumeMd(text, `metadata of volume ${volUUID} (slot ${place.slot})`) : undefined;
      if (!md || md.IMAGE !== place.img) {
        this.places.delete(volUUID);
        throw new VdsmError("VolumeDoesNotExist", `${volUUID} in ${this.sdUUID}: its metadata slot ${place.slot} holds another volume`);
      }
      if (md.LEGALITY !== "LEGAL") throw new VdsmError("VolumeExtendingError", `${volUUID} is ${md.LEGALITY}`);
      const granted = Math.min(sizeMiB, Math.ceil((md.CAP * 1.1) / MiB));
      const r = place.range;
      const want = extentsFor(granted * MiB, r.extentSize);
      if (want <= r.count) return granted;
      try {
        await this.lvm.lvextend(this.sdUUID, volUUID, r.pv, want, r.first + r.count, r.first + want - 1);
      } catch {
        // The cache was stale or the extents are taken: redo it the careful way (clear errors).
        this.places.delete(volUUID);
        await this.growLocked(volUUID, granted * MiB);
        return granted;
      }
      place.range = { ...r, count: want };
      await this.env.dataPath.refresh(this.sdUUID, volUUID, place.range);
      return granted;
    });
  }

  /**
   * A volume's LV: one segment on free extents chosen here, tagged `OVIRT_VOL_INITIALIZING`
   * until `finishVolume`, with the first free metadata slot. Returns the slot.
   */
  async createVolumeLv(imgUUID: string, volUUID: string, parent: string, bytes: number): Promise<number> {
    return this.slotLock.run(async () => {
      const lvs = await this.lvm.lvs(this.sdUUID);
      if (lvs.some((l) => l.name === volUUID)) throw new VdsmError("VolumeAlreadyExists", volUUID);
      const used = new Set(lvs.map((l) => Number(tagValue(l, "MD_"))).filter((n) => Number.isInteger(n)));
      let slot = 0;
      while (used.has(slot)) slot++;
      const vg = await this.vg();
      const count = extentsFor(bytes, vg.extentSize);
      const place = freeRun(lvs, vg.extentCount, count);
      if (!place) throw new VdsmError("VolumeGroupSizeError", `${this.sdUUID}: no ${count} contiguous free extents`);
      const pv = (await this.lvm.pvs()).find((p) => p.vgName === this.sdUUID);
      if (!pv) throw new VdsmError("InaccessiblePhysDev", this.sdUUID);
      await this.lvm.lvcreate(this.sdUUID, volUUID, pv.name, place, count, [`IU_${imgUUID}`, `PU_${parent || BLANK_UUID}`, `MD_${slot}`, INITIALIZING_TAG]);
      return slot;
    });
  }

  /** Whether this host has the volume's device now (a VM or a job may be using it). */
  async isActive(volUUID: string): Promise<boolean> {
    return (await this.env.dataPath.activePath(this.sdUUID, volUUID, await this.range(volUUID))) !== undefined;
  }

  /** Makes the LV's `PU_` tag name `parent` (a merge took the old parent out of the chain); no-op when it does. */
  async setParentTag(imgUUID: string, volUUID: string, parent: string): Promise<void> {
    const { lv } = await this.volumeLv(imgUUID, volUUID);
    const old = lv.tags.filter((t) => t.startsWith("PU_"));
    if (old.length === 1 && old[0] === `PU_${parent}`) return;
    await this.lvm.lvtags(this.sdUUID, volUUID, [`PU_${parent}`], old);
  }

  async finishVolume(volUUID: string): Promise<void> {
    await this.lvm.lvtags(this.sdUUID, volUUID, [], [INITIALIZING_TAG]);
  }

  /** VDSM's delete: the image tag becomes `IU__remove_me_<img>` first, the slot is cleared, then lvremove. */
  async removeVolumeLv(imgUUID: string, volUUID: string): Promise<void> {
    this.places.delete(volUUID);
    const lv = (await this.volumeLvs()).find((l) => l.name === volUUID);
    if (!lv) return;
    const img = tagValue(lv, "IU_");
    if (img === imgUUID && !img.startsWith(REMOVED_IMAGE_PREFIX)) await this.lvm.lvtags(this.sdUUID, volUUID, [`IU_${REMOVED_IMAGE_PREFIX}${imgUUID}`], [`IU_${imgUUID}`]);
    const slot = Number(tagValue(lv, "MD_"));
    if (Number.isInteger(slot)) await this.writeSlot(slot, null);
    await this.lvm.lvremove(this.sdUUID, volUUID);
  }

  /**
   * Destroys the domain: the domain tag goes first (a half-formatted VG never looks like a
   * domain), then every mapping of its LVs on this host, the VG and the PV labels, so the LUN is
   * free again.
   */
  async format(): Promise<void> {
    const vg = await this.vg();
    const pvs = (await this.lvm.pvs()).filter((p) => p.vgName === vg.name).map((p) => p.name);
    await this.lvm.vgtags(vg.name, [], [SD_TAG]);
    const lvs = await this.lvm.lvs(vg.name);
    for (const lv of lvs) {
      const r = await this.range(lv.name, lvs).catch(() => undefined);
      if (r) await this.env.dataPath.deactivate(vg.name, lv.name, r);
    }
    await this.lvm.cmd(["vgremove", "--force", "--yes", vg.name], "VolumeGroupRemoveError");
    for (const pv of pvs) await this.lvm.cmd(["pvremove", "--yes", pv], "PhysDevInitializationError");
    await rm(this.dir, { recursive: true, force: true });
  }

  leasesPath(): string {
    return join(this.mdDir, "leases");
  }
  masterDir(): string {
    return join(this.dir, "master");
  }
  prepareHost = () => ensureHostView(this);
  prepareMaster = async () => {
    await this.prepareHost();
    return mountMaster(this.env.log, this);
  };
  releaseMaster = () => unmountMaster(this.env.log, this);
}

/** Block domains: VGs named by a domain UUID and tagged RHAT_storage_domain on this host's LUNs. */
export class BlockDriver implements DomainDriver<BlockDomain> {
  readonly name = "block" as const;
  constructor(readonly env: BlockEnv) {}

  async find(sdUUID: string): Promise<BlockDomain | undefined> {
    const vg = await this.env.lvm.vg(sdUUID).catch(() => undefined);
    return vg?.tags.includes(SD_TAG) ? new BlockDomain(sdUUID, this.env) : undefined;
  }

  async all(): Promise<BlockDomain[]> {
    const vgs = await this.env.lvm.vgs().catch(() => [] as VgInfo[]);
    return vgs.filter((v) => v.tags.includes(SD_TAG) && UUID_RE.test(v.name)).map((v) => new BlockDomain(v.name, this.env));
  }
}
