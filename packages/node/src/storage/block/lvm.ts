/**
 * lvm2 for block storage domains: one runner that passes every command an explicit `--config`
 * (a device filter naming only the LUNs this host may use, no host backups/archives, and
 * `activation=0` where the kernel has no device-mapper) and reads reports as JSON. Never puts
 * anything in argv that was not validated: VG/LV names are UUIDs or fixed names, devices come
 * from our own LUN discovery, tags are encoded by `encodeTag`.
 */
import { join } from "node:path";
import { type ErrorName, VdsmError } from "@vela/protocol";
import { CommandError, run, URGENT_NICE } from "../../exec.js";
import type { Logger } from "../../log.js";
import { LvmShell, shellable } from "./lvmshell.js";

export const MiB = 2 ** 20;
/** Commands that change metadata, run through the resident shell when there is one. */
const CHANGES = new Set(["lvcreate", "lvchange", "lvremove", "vgchange"]);
/** VDSM's extent size for block domains. */
export const EXTENT = 128 * MiB;
const NAME_RE = /^[A-Za-z0-9_+.-]{1,128}$/;
const DEV_RE = /^\/dev\/[A-Za-z0-9/_.-]{1,120}$/;
/** Characters LVM takes in a tag unencoded (storage-format.md); others become `&<ord>&`. */
const TAG_SAFE = /[a-zA-Z0-9_+.\-/=!:#]/;

export function encodeTag(s: string): string {
  let out = "";
  for (const ch of s) out += TAG_SAFE.test(ch) ? ch : `&${ch.codePointAt(0)}&`;
  return out;
}

export function decodeTag(s: string): string {
  return s.replace(/&(\d{1,7})&/g, (_, n: string) => String.fromCodePoint(Number(n)));
}

export interface PvInfo {
  name: string;
  uuid: string;
  vgName: string;
  size: number;
  peStart: number;
  peCount: number;
}
export interface VgInfo {
  name: string;
  uuid: string;
  size: number;
  free: number;
  extentSize: number;
  extentCount: number;
  freeCount: number;
  tags: string[];
  attr: string;
}
export interface LvSegment {
  pv: string;
  first: number;
  last: number;
}
export interface LvInfo {
  name: string;
  vgName: string;
  size: number;
  tags: string[];
  segments: LvSegment[];
}

/** One consistent read of a VG: as of metadata sequence number `seqno`. */
export interface VgReport {
  vg: VgInfo;
  seqno: number;
  pvs: PvInfo[];
  lvs: LvInfo[];
}

type Report = { report: Record<string, Record<string, string>[]>[] };

function need(name: string, what: string): string {
  if (!NAME_RE.test(name)) throw new VdsmError("InvalidParameter", `${what} ${JSON.stringify(name)}`);
  return name;
}
function dev(d: string): string {
  if (!DEV_RE.test(d)) throw new VdsmError("InvalidParameter", `device ${JSON.stringify(d)}`);
  return d;
}
function tags(list: string): string[] {
  return list ? list.split(",").filter(Boolean) : [];
}
/** `/dev/loop3:0-2 /dev/loop3:5-5` → segments. */
export function parsePeRanges(s: string): LvSegment[] {
  return s
    .split(/\s+/)
    .filter(Boolean)
    .map((r) => {
      const m = /^(.*):(\d+)-(\d+)$/.exec(r);
      if (!m) throw new VdsmError("LogicalVolumeScanError", `unreadable PE range ${r}`);
      return { pv: m[1]!, first: Number(m[2]), last: Number(m[3]) };
    });
}

function lvPaths(vg: string, lv: string | readonly string[]): string[] {
  const names = typeof lv === "string" ? [lv] : [...lv];
  if (!names.length) throw new VdsmError("InvalidParameter", "no LV named");
  return names.map((n) => `${need(vg, "VG")}/${need(n, "LV")}`);
}

export class Lvm {
  /**
   * @param devices the LUN devices this host may use (the filter accepts only those)
   * @param activation false where there is no device-mapper (this machine kind)
   */
  /** Resident lvm shells (lvmshell.ts): one for thin extensions (VDSM's priority), one for other changes. */
  private readonly shells?: { urgent: LvmShell; changes: LvmShell };

  /**
   * @param shellDir where the resident lvm shells keep their lvm.conf; without it every command is
   *   its own lvm process
   */
  constructor(
    private readonly log: Logger,
    private readonly devices: () => Promise<string[]>,
    readonly activation: boolean,
    shellDir?: string,
  ) {
    if (shellDir) this.shells = { urgent: new LvmShell(log, join(shellDir, "urgent"), URGENT_NICE), changes: new LvmShell(log, join(shellDir, "changes")) };
  }

  /** The shell a command goes through, if any: changes only (reports run concurrently, as processes). */
  private shellFor(args: readonly string[]): LvmShell | undefined {
    if (!this.shells || !shellable(args)) return undefined;
    if (args[0] === "lvextend") return this.shells.urgent;
    return CHANGES.has(args[0]!) ? this.shells.changes : undefined;
  }

  /** `--config` for one command; `only` narrows the filter to those devices (a domain's PVs). */
  async config(only?: readonly string[]): Promise<string> {
    const accept = (only ?? (await this.devices())).map((d) => `"a|^${dev(d)}$|"`);
    const filter = [...accept, `"r|.*|"`].join(",");
    return `global{activation=${this.activation ? 1 : 0}} devices{filter=[${filter}] global_filter=[${filter}] use_devicesfile=0} backup{backup=0 archive=0}`;
  }

  /**
   * Runs one lvm command. `only`: the devices it may see (a domain's PVs, known from its last
   * report): then no LUN discovery runs first and lvm scans only those.
   */
  async cmd(args: string[], errName: ErrorName = "VolumeGroupActionError", only?: readonly string[]): Promise<string> {
    const argv = ["lvm", args[0]!, "--config", await this.config(only?.length ? only : undefined), ...args.slice(1)];
    try {
      const shell = this.shellFor(argv.slice(1));
      if (shell) return await shell.run(argv.slice(1), 60_000);
      // An lvextend is a thin extension a guest may be paused on: it gets VDSM's priority.
      const nice = args[0] === "lvextend" ? URGENT_NICE : undefined;
      return (await run(argv, { log: this.log, timeoutMs: 60_000, env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1" }, nice })).stdout;
    } catch (err) {
      if (err instanceof CommandError) throw new VdsmError(errName, `${args.slice(0, 2).join(" ")}: ${err.stderr.replace(/^\s*WARNING:.*$/gm, "").trim().slice(0, 500)}`);
      throw err;
    }
  }

  /**
   * Reports read the on-disk metadata without taking LVM's file locks (`--readonly`), as other
   * hosts always do (there is no lock across hosts; an LVM commit is atomic on disk). With locks,
   * a steady stream of readers (domain monitors, status polls) kept the VG's shared lock held and
   * starved the SPM's lvextend of its exclusive one: 25–40 s per thin extension, measured.
   */
  private async report(args: string[], key: string, errName: ErrorName, only?: readonly string[]): Promise<Record<string, string>[]> {
    const out = await this.cmd([args[0]!, "--readonly", ...args.slice(1), "--reportformat", "json", "--units", "b", "--nosuffix"], errName, only);
    return ((JSON.parse(out) as Report).report[0]?.[key] ?? []) as Record<string, string>[];
  }

  async pvs(): Promise<PvInfo[]> {
    if (!(await this.devices()).length) return [];
    const rows = await this.report(["pvs", "-o", "pv_name,pv_uuid,vg_name,pv_size,pe_start,pv_pe_count"], "pv", "CouldNotRetrievePhysicalVolumeList");
    return rows.map((r) => ({ name: r.pv_name!, uuid: r.pv_uuid!, vgName: r.vg_name ?? "", size: Number(r.pv_size), peStart: Number(r.pe_start), peCount: Number(r.pv_pe_count) }));
  }

  async vgs(): Promise<VgInfo[]> {
    if (!(await this.devices()).length) return [];
    const rows = await this.report(["vgs", "-o", "vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,vg_tags,vg_attr"], "vg", "GetVolumeGroupListError");
    return rows.map((r) => ({
      name: r.vg_name!,
      uuid: r.vg_uuid!,
      size: Number(r.vg_size),
      free: Number(r.vg_free),
      extentSize: Number(r.vg_extent_size),
      extentCount: Number(r.vg_extent_count),
      freeCount: Number(r.vg_free_count),
      tags: tags(r.vg_tags ?? ""),
      attr: r.vg_attr ?? "",
    }));
  }

  async vg(name: string): Promise<VgInfo | undefined> {
    return (await this.vgs()).find((v) => v.name === name);
  }

  async lvs(vg: string): Promise<LvInfo[]> {
    const rows = await this.report(["lvs", "-o", "lv_name,vg_name,lv_size,lv_tags,seg_pe_ranges", need(vg, "VG")], "lv", "LogicalVolumesListError");
    // One row per segment: merge by LV name.
    const byName = new Map<string, LvInfo>();
    for (const r of rows) {
      const cur = byName.get(r.lv_name!) ?? { name: r.lv_name!, vgName: r.vg_name!, size: Number(r.lv_size), tags: tags(r.lv_tags ?? ""), segments: [] };
      cur.segments.push(...parsePeRanges(r.seg_pe_ranges ?? ""));
      byName.set(cur.name, cur);
    }
    for (const lv of byName.values()) lv.segments.sort((a, b) => a.first - b.first);
    return [...byName.values()];
  }

  /**
   * Everything a domain reads from LVM in one command (one scan): the VG, its PVs and its LVs
   * with their extents, from `pvs --segments` (a row per PV segment, free ones with no LV).
   * Undefined when the VG is not there. `only`: the devices to scan (the VG's PVs, when known).
   */
  async vgReport(vg: string, only?: readonly string[]): Promise<VgReport | undefined> {
    const rows = await this.report(
      ["pvs", "--segments", "-o", "pv_name,pv_uuid,pv_size,pe_start,pv_pe_count,pvseg_start,pvseg_size,lv_name,lv_size,lv_tags,vg_name,vg_uuid,vg_seqno,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,vg_tags,vg_attr", "--select", `vg_name=${need(vg, "VG")}`],
      "pvseg",
      "GetVolumeGroupListError",
      only,
    );
    const r0 = rows[0];
    if (!r0) return undefined;
    const info: VgInfo = {
      name: r0.vg_name!,
      uuid: r0.vg_uuid!,
      size: Number(r0.vg_size),
      free: Number(r0.vg_free),
      extentSize: Number(r0.vg_extent_size),
      extentCount: Number(r0.vg_extent_count),
      freeCount: Number(r0.vg_free_count),
      tags: tags(r0.vg_tags ?? ""),
      attr: r0.vg_attr ?? "",
    };
    const pvs = new Map<string, PvInfo>();
    const lvs = new Map<string, LvInfo>();
    for (const r of rows) {
      if (!pvs.has(r.pv_name!)) pvs.set(r.pv_name!, { name: r.pv_name!, uuid: r.pv_uuid!, vgName: info.name, size: Number(r.pv_size), peStart: Number(r.pe_start), peCount: Number(r.pv_pe_count) });
      if (!r.lv_name) continue;
      const lv = lvs.get(r.lv_name) ?? { name: r.lv_name, vgName: info.name, size: Number(r.lv_size), tags: tags(r.lv_tags ?? ""), segments: [] };
      const first = Number(r.pvseg_start);
      lv.segments.push({ pv: r.pv_name!, first, last: first + Number(r.pvseg_size) - 1 });
      lvs.set(lv.name, lv);
    }
    for (const lv of lvs.values()) lv.segments.sort((a, b) => a.first - b.first);
    return { vg: info, seqno: Number(r0.vg_seqno), pvs: [...pvs.values()], lvs: [...lvs.values()] };
  }

  async pvcreate(device: string): Promise<void> {
    // VDSM's PV layout: a 128 MiB metadata area, so the first extent starts at 129 MiB.
    await this.cmd(["pvcreate", "--metadatasize", "128m", "--yes", dev(device)], "PhysDevInitializationError");
  }

  async vgcreate(name: string, device: string, tag: string): Promise<void> {
    await this.cmd(["vgcreate", "--physicalextentsize", "128m", "--addtag", tag, need(name, "VG"), dev(device)], "VolumeGroupCreateError");
  }

  /** An LV on exactly the extents [first, first+count) of `pv`, so it is one segment. */
  async lvcreate(vg: string, lv: string, pv: string, first: number, count: number, lvTags: string[] = [], only?: readonly string[]): Promise<void> {
    const args = ["lvcreate", "--activate", this.activation ? "y" : "n", "--zero", "n", "--wipesignatures", "n", "--extents", String(count), "--name", need(lv, "LV")];
    for (const t of lvTags) args.push("--addtag", t);
    args.push(need(vg, "VG"), `${dev(pv)}:${first}-${first + count - 1}`);
    await this.cmd(args, "CannotCreateLogicalVolume", only);
  }

  /** Grows an LV onto the extents right after its last one (kept one segment). */
  async lvextend(vg: string, lv: string, pv: string, toCount: number, nextFirst: number, nextLast: number, only?: readonly string[]): Promise<void> {
    await this.cmd(["lvextend", "--extents", String(toCount), `${need(vg, "VG")}/${need(lv, "LV")}`, `${dev(pv)}:${nextFirst}-${nextLast}`], "LogicalVolumeExtendError", only);
  }

  /** Removes one LV or several in one command (one metadata commit). */
  async lvremove(vg: string, lv: string | readonly string[], only?: readonly string[]): Promise<void> {
    await this.cmd(["lvremove", "--force", ...lvPaths(vg, lv)], "CannotRemoveLogicalVolume", only);
  }

  /** The same tag change on one LV or several in one command (one commit per LV). */
  async lvtags(vg: string, lv: string | readonly string[], add: string[], del: string[], only?: readonly string[]): Promise<void> {
    const args = ["lvchange"];
    for (const t of del) args.push("--deltag", t);
    for (const t of add) args.push("--addtag", t);
    await this.cmd([...args, ...lvPaths(vg, lv)], "LogicalVolumeReplaceTagError", only);
  }

  /** Tag changes in one lvm command: one metadata commit, so readers see all or none. */
  async vgtags(vg: string, add: string[], del: string[], only?: readonly string[]): Promise<void> {
    const args = ["vgchange"];
    for (const t of del) args.push("--deltag", t);
    for (const t of add) args.push("--addtag", t);
    await this.cmd([...args, need(vg, "VG")], "VolumeGroupReplaceTagError", only);
  }
}
