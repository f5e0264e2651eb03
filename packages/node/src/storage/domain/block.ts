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
import { edits, type VgSnapshot, type VgView, viewOf } from "../block/vgview.js";
import { domainChecksum, type Md, parseVolumeMd, type VolumeMd, formatVolumeMd, VOLUME_MD_MAX } from "../metadata.js";
import type { Logger } from "../../log.js";
import { Mutex } from "../sync.js";
import { type CreateBlockDomainArgs, layOutDomain } from "../block/create.js";
import { extentsFor, INITIALIZING_TAG, mdFromTags, MDT_PREFIX, REMOVED_IMAGE_PREFIX, SD_TAG, SLOT_BASE, SLOT_SIZE, SPECIAL_LVS, tagsFromMd } from "../block/vgtags.js";
import type { DomainSpace, StorageDomain } from "./driver.js";
import { type GrowTimes, growInPlace, ms } from "../block/grow.js";
import type { Steps } from "../block/steps.js";

export type { GrowTimes };

const SPECIAL_NAMES = new Set(SPECIAL_LVS.map(([n]) => n));

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
  /** The VG as last read, checked against the disk before each use (block/vgview.ts). */
  readonly view: VgView;

  constructor(
    readonly sdUUID: string,
    readonly env: BlockEnv,
  ) {
    this.dir = join(env.root, sdUUID);
    this.mdDir = join(this.dir, "dom_md");
    this.view = viewOf(env.lvm, sdUUID);
  }

  get lvm(): Lvm {
    return this.env.lvm;
  }

  /** Turns a VG made by createVG (tagged UNREADY, named sdUUID) into a domain (block/create.ts). */
  static async create(env: BlockEnv, a: CreateBlockDomainArgs): Promise<BlockDomain> {
    await layOutDomain(env.lvm, a);
    return new BlockDomain(a.sdUUID, env);
  }

  /** The VG, its PVs and LVs as on disk now (one stamp check when unchanged; vgview.ts). */
  async snapshot(): Promise<VgSnapshot> {
    const s = await this.view.get();
    if (!s?.vg.tags.includes(SD_TAG)) throw new VdsmError("StorageDomainDoesNotExist", this.sdUUID);
    return s;
  }

  async vg(): Promise<VgInfo> {
    return (await this.snapshot()).vg;
  }

  /** Every LV of the domain's VG (special ones included). */
  async lvs(): Promise<LvInfo[]> {
    return (await this.snapshot()).lvs;
  }

  /** The `metadata` LV's place: special LVs never move or grow, so it is read once. */
  private mdRange?: LvRange;

  async present(): Promise<boolean> {
    try {
      await this.snapshot();
      return true;
    } catch {
      return false;
    }
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
      const add = nu.filter((t) => !old.includes(t));
      const del = old.filter((t) => !nu.includes(t));
      await this.view.change(
        (only) => this.lvm.vgtags(this.sdUUID, add, del, only),
        (s) => edits.vgTags(s, add, del),
      );
      return md;
    });
  }

  /** Volume LVs (every LV but the special ones). */
  async volumeLvs(): Promise<LvInfo[]> {
    return (await this.lvs()).filter((lv) => !SPECIAL_NAMES.has(lv.name) && UUID_RE.test(lv.name));
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
  async range(lvName: string, snap?: VgSnapshot): Promise<LvRange> {
    // No domain check here: the clean-up of a half-made domain maps its LVs' ranges too.
    const s = snap ?? (await this.view.get());
    const lv = s?.lvs.find((l) => l.name === lvName);
    if (!s || !lv) throw new VdsmError("LogicalVolumeDoesNotExistError", `${this.sdUUID}/${lvName}`);
    const seg = lv.segments[0];
    if (!seg || lv.segments.length !== 1) throw new VdsmError("CannotAccessLogicalVolume", `${this.sdUUID}/${lvName} is in ${lv.segments.length} segments`);
    const pv = s.pvs.find((p) => p.name === seg.pv);
    if (!pv) throw new VdsmError("InaccessiblePhysDev", seg.pv);
    return { pv: seg.pv, peStart: pv.peStart, extentSize: s.vg.extentSize, first: seg.first, count: seg.last - seg.first + 1 };
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
    await this.writeSlots([[slot, text]]);
  }

  /**
   * Several slots (512 bytes each, NUL padded; null clears), written then synced once: all are
   * on disk before it returns, as with one synced write each, for one flush instead of N.
   */
  async writeSlots(entries: readonly (readonly [number, string | null])[]): Promise<void> {
    if (!entries.length) return;
    const writes = await Promise.all(
      entries.map(async ([slot, text]) => {
        const { pv, offset } = await this.slotOffset(slot);
        const buf = Buffer.alloc(VOLUME_MD_MAX);
        if (text !== null) {
          const b = Buffer.from(text, "utf8");
          if (b.length > VOLUME_MD_MAX) throw new VdsmError("MetadataOverflowError", `${b.length} bytes`);
          b.copy(buf);
        }
        return { pv, offset, buf };
      }),
    );
    const fh = await open(writes[0]!.pv, "r+");
    try {
      for (const w of writes) await fh.write(w.buf, 0, VOLUME_MD_MAX, w.offset);
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

  /** Several volumes' metadata of one image in one synced write (deleteImage's ILLEGAL marks). */
  async writeVolumeMetas(imgUUID: string, mds: ReadonlyMap<string, VolumeMd>): Promise<void> {
    const lvs = await Promise.all([...mds.keys()].map((v) => this.volumeLv(imgUUID, v)));
    await this.writeSlots(lvs.map(({ slot }, i) => [slot, formatVolumeMd([...mds.values()][i]!)] as const));
    for (const { lv } of lvs) if (lv.tags.includes(INITIALIZING_TAG)) await this.finishVolume(lv.name);
  }

  async writeVolumeMeta(imgUUID: string, volUUID: string, md: VolumeMd): Promise<void> {
    const { lv, slot } = await this.volumeLv(imgUUID, volUUID);
    await this.writeSlot(slot, formatVolumeMd(md));
    // The first metadata write ends the create: the LV is no longer garbage if its creator dies.
    if (lv.tags.includes(INITIALIZING_TAG)) await this.finishVolume(volUUID);
  }

  async createVolumeArea(imgUUID: string, volUUID: string, parentUUID: string, bytes: number): Promise<void> {
    // A slot freed by an earlier volume may still hold its text: cleared before the LV names it.
    await this.createVolumeLv(imgUUID, volUUID, parentUUID, bytes, null);
  }

  /**
   * createVolumeArea and the volume's first metadata (`md`, ILLEGAL while the job runs) in one
   * lvm command: the text goes into the free slot before the LV that names it exists, so the LV
   * is made without `OVIRT_VOL_INITIALIZING`. That tag marks an LV whose metadata may not be
   * written yet (VDSM drops it after the first metadata write, with a second lvm commit); here
   * there is no such moment: the LV appears with its metadata already on disk. A crash before
   * the lvcreate leaves text in a slot no LV names: free, and overwritten by its next user; a
   * crash after it leaves an ILLEGAL volume that the task's journal removes.
   */
  async createVolumeWithMeta(imgUUID: string, volUUID: string, parentUUID: string, bytes: number, md: VolumeMd, st?: Steps): Promise<void> {
    await this.createVolumeLv(imgUUID, volUUID, parentUUID, bytes, formatVolumeMd(md), st);
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

  /** The grow itself, under slotLock (block/grow.ts). */
  private growLocked(volUUID: string, bytes: number, times?: GrowTimes): Promise<number> {
    return growInPlace(this, volUUID, bytes, times);
  }

  /**
   * The SPM's thin extension (an `xtnd` request, or the SPM's own VM): the volume must be LEGAL;
   * grows its LV in place to `sizeMiB`, never past VDSM's cap for a thin volume (capacity × 1.1),
   * and answers the size granted in MiB. The VG view costs one stamp check when nothing else
   * changed, so the extension is one lvm process (lvextend) plus the metadata slot read.
   */
  async extendThin(volUUID: string, sizeMiB: number, times?: GrowTimes): Promise<number> {
    const tLock = performance.now();
    return this.slotLock.run(async () => {
      const t0 = performance.now();
      const lv = (await this.lvs()).find((l) => l.name === volUUID);
      const img = lv && tagValue(lv, "IU_");
      const slot = lv ? Number(tagValue(lv, "MD_")) : Number.NaN;
      if (!lv || !img || img.startsWith(REMOVED_IMAGE_PREFIX) || !Number.isInteger(slot)) throw new VdsmError("VolumeDoesNotExist", `${volUUID} in ${this.sdUUID}`);
      const text = (await this.readSlot(slot)).toString("utf8").replace(/\0+$/, "");
      const md = text.trim() ? parseVolumeMd(text, `metadata of volume ${volUUID} (slot ${slot})`) : undefined;
      if (!md || md.IMAGE !== img) throw new VdsmError("VolumeDoesNotExist", `${volUUID} in ${this.sdUUID}: its metadata slot ${slot} holds another volume`);
      if (md.LEGALITY !== "LEGAL") throw new VdsmError("VolumeExtendingError", `${volUUID} is ${md.LEGALITY}`);
      const granted = Math.min(sizeMiB, Math.ceil((md.CAP * 1.1) / MiB));
      if (times) Object.assign(times, { lockMs: ms(tLock, t0), slotMs: ms(t0, performance.now()) });
      await this.growLocked(volUUID, granted * MiB, times);
      return granted;
    });
  }

  /**
   * A volume's LV: one segment on free extents chosen here, with the first free metadata slot.
   * Returns the slot. `slotText`: what the slot holds before the LV exists — metadata text (the
   * LV is then complete when made), or null (cleared; the LV is tagged `OVIRT_VOL_INITIALIZING`
   * until its first metadata write, as in VDSM).
   */
  async createVolumeLv(imgUUID: string, volUUID: string, parent: string, bytes: number, slotText?: string | null, st?: Steps): Promise<number> {
    return this.slotLock.run(async () => {
      const snap = await this.snapshot();
      st?.mark("view");
      const lvs = snap.lvs;
      if (lvs.some((l) => l.name === volUUID)) throw new VdsmError("VolumeAlreadyExists", volUUID);
      const used = new Set(lvs.map((l) => Number(tagValue(l, "MD_"))).filter((n) => Number.isInteger(n)));
      let slot = 0;
      while (used.has(slot)) slot++;
      const vg = snap.vg;
      const count = extentsFor(bytes, vg.extentSize);
      const place = freeRun(lvs, vg.extentCount, count);
      if (!place) throw new VdsmError("VolumeGroupSizeError", `${this.sdUUID}: no ${count} contiguous free extents`);
      const pv = snap.pvs[0];
      if (!pv) throw new VdsmError("InaccessiblePhysDev", this.sdUUID);
      const tags = [`IU_${imgUUID}`, `PU_${parent || BLANK_UUID}`, `MD_${slot}`, ...(typeof slotText === "string" ? [] : [INITIALIZING_TAG])];
      // The slot is free (no LV names it) until the lvcreate below: its text is set first.
      if (slotText !== undefined) await this.writeSlot(slot, slotText);
      st?.mark("slot");
      await this.view.change(
        (only) => this.lvm.lvcreate(this.sdUUID, volUUID, pv.name, place, count, tags, only),
        (v) => edits.create(v, { name: volUUID, vgName: this.sdUUID, size: count * vg.extentSize, tags, segments: [{ pv: pv.name, first: place, last: place + count - 1 }] }),
      );
      st?.mark("lvcreate");
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
    await this.lvTags(volUUID, [`PU_${parent}`], old);
  }

  async finishVolume(volUUID: string): Promise<void> {
    await this.lvTags(volUUID, [], [INITIALIZING_TAG]);
  }

  private lvTags(vols: string | readonly string[], add: string[], del: string[]): Promise<void> {
    const names = typeof vols === "string" ? [vols] : vols;
    return this.view.change(
      (only) => this.lvm.lvtags(this.sdUUID, names, add, del, only),
      (v) => {
        for (const n of names) edits.lvTags(v, n, add, del);
      },
      names.length,
    );
  }

  /**
   * deleteImage's removal of several volume LVs of one image (their metadata already ILLEGAL) in
   * one lvm command: one lvremove of all of them (one commit: no child is ever left without its
   * parent), then their metadata slots cleared. VDSM first retags the LVs `IU__remove_me_<img>`
   * (a second commit) so that LVs a crash leaves behind are garbage to the next SPM; here the
   * lvremove follows at once, and the only state a crash can leave is the image with every
   * volume ILLEGAL, which the task's journal finishes removing. A crash after the lvremove leaves
   * text in slots no LV names: free, overwritten by their next user. Remove and clear hold the
   * slot lock, so a create cannot take a freed slot before it is cleared.
   */
  async removeVolumeAreas(imgUUID: string, vols: readonly string[], st?: Steps): Promise<void> {
    const lvs = (await this.volumeLvs()).filter((l) => vols.includes(l.name));
    if (!lvs.length) return;
    for (const lv of lvs) await this.teardownVolume(imgUUID, lv.name);
    st?.mark("teardown");
    const slots = lvs.map((l) => Number(tagValue(l, "MD_"))).filter((n) => Number.isInteger(n));
    const names = lvs.map((l) => l.name);
    await this.slotLock.run(async () => {
      await this.view.change(
        (only) => this.lvm.lvremove(this.sdUUID, names, only),
        (v) => {
          for (const n of names) edits.remove(v, n);
        },
      );
      st?.mark("lvremove");
      await this.writeSlots(slots.map((slot) => [slot, null] as const));
      st?.mark("clear");
    });
  }

  /** VDSM's delete: the image tag becomes `IU__remove_me_<img>` first, the slot is cleared, then lvremove. */
  async removeVolumeLv(imgUUID: string, volUUID: string): Promise<void> {
    const lv = (await this.volumeLvs()).find((l) => l.name === volUUID);
    if (!lv) return;
    const img = tagValue(lv, "IU_");
    if (img === imgUUID && !img.startsWith(REMOVED_IMAGE_PREFIX)) await this.lvTags(volUUID, [`IU_${REMOVED_IMAGE_PREFIX}${imgUUID}`], [`IU_${imgUUID}`]);
    const slot = Number(tagValue(lv, "MD_"));
    if (Number.isInteger(slot)) await this.writeSlot(slot, null);
    await this.view.change(
      (only) => this.lvm.lvremove(this.sdUUID, volUUID, only),
      (v) => edits.remove(v, volUUID),
    );
  }

  /**
   * Destroys the domain: the domain tag goes first (a half-formatted VG never looks like a
   * domain), then every mapping of its LVs on this host, the VG and the PV labels, so the LUN is
   * free again.
   */
  async format(): Promise<void> {
    const snap = await this.snapshot();
    const vg = snap.vg;
    const pvs = snap.pvs.map((p) => p.name);
    this.view.drop();
    await this.lvm.vgtags(vg.name, [], [SD_TAG], pvs);
    for (const lv of snap.lvs) {
      const r = await this.range(lv.name, snap).catch(() => undefined);
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
