/**
 * One domain's view of its VG (the VG, its PVs, its LVs with tags and extents), kept in memory
 * and kept coherent without running lvm for every read:
 * - every read first compares the VG's stamp (vgstamp.ts: three small reads of the PV's metadata
 *   area header and text head) with the one the view was read at; a different stamp (any commit
 *   by any host: another SPM, an older SPM's last write, a test's own lvm) re-reads the whole VG
 *   in one lvm report restricted to the domain's PVs;
 * - this host's own writes (`change`) update the view in place when the commit that followed is
 *   exactly the next one (seqno + 1 from the view's): then nobody else wrote in between. Anything
 *   else (two writes at once, another writer) drops the view; the next read re-reads it.
 * So a host never serves a view older than the last commit on disk at the time of its read, and
 * the SPM (the only writer in VDSM's model) pays one lvm process per change instead of five.
 * Where the stamp cannot be read (no metadata area on the first PV, an ignored one), every read
 * runs the report: correct, only slower.
 */
import { Mutex } from "../sync.js";
import type { LvInfo, Lvm, PvInfo, VgInfo, VgReport } from "./lvm.js";
import { readVgStamp, type VgStamp } from "./vgstamp.js";

export interface VgSnapshot extends VgReport {
  /** The stamp this snapshot was read at (undefined: not verifiable, re-read next time). */
  key?: string;
}

export class VgView {
  private snap?: VgSnapshot;
  private loading?: Promise<VgSnapshot | undefined>;
  /** This host's writes, one at a time (lvm would serialize them on its VG lock anyway). */
  private readonly writeLock = new Mutex();
  /** The write in flight: readers wait for it instead of re-reading the VG it is changing. */
  private writing?: Promise<unknown>;
  /** lvm reports run, and reads served from memory (tests and logs). */
  readonly counters = { reports: 0, hits: 0, applied: 0, dropped: 0 };

  constructor(
    private readonly lvm: Lvm,
    readonly vgName: string,
  ) {}

  /** The devices lvm needs to see for this VG (its PVs), once known. */
  devices(): string[] | undefined {
    return this.snap?.pvs.map((p) => p.name);
  }

  private async stamp(s: VgSnapshot | undefined): Promise<VgStamp | undefined> {
    const pv = s?.pvs[0]?.name;
    return pv ? readVgStamp(pv) : undefined;
  }

  /** The VG as on disk now, or undefined when there is no such VG on this host's LUNs. */
  async get(): Promise<VgSnapshot | undefined> {
    while (this.writing) await this.writing.catch(() => {});
    return this.read();
  }

  private async read(): Promise<VgSnapshot | undefined> {
    const s = this.snap;
    if (s?.key) {
      const st = await this.stamp(s);
      if (st?.key === s.key && this.snap === s) {
        this.counters.hits++;
        return s;
      }
    }
    // One report at a time; callers meanwhile share it.
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<VgSnapshot | undefined> {
    this.counters.reports++;
    const before = this.snap;
    const r = await this.lvm.vgReport(this.vgName, this.devices());
    if (!r) {
      // Gone, or its PVs changed names: one more look over every LUN before saying so.
      const again = before ? await this.lvm.vgReport(this.vgName) : undefined;
      if (!again) {
        this.snap = undefined;
        return undefined;
      }
      return this.keep(again);
    }
    return this.keep(r);
  }

  private async keep(r: VgReport): Promise<VgSnapshot> {
    const st = await this.stamp(r);
    // The stamp read after the report names the same commit: the view is that commit's.
    const snap: VgSnapshot = { ...r, key: st?.seqno === r.seqno ? st.key : undefined };
    this.snap = snap;
    return snap;
  }

  /**
   * Runs this host's own lvm write and brings the view along: `apply` edits the snapshot as the
   * write did, kept only when the write made exactly `commits` commits after the view's (lvm
   * commits once per command for lvcreate, lvextend, lvremove, vgchange; once per LV for lvchange).
   */
  async change<T>(write: (only: readonly string[] | undefined) => Promise<T>, apply: (s: VgSnapshot) => void, commits = 1): Promise<T> {
    return this.writeLock.run(async () => {
      const p = this.changeLocked(write, apply, commits);
      this.writing = p;
      try {
        return await p;
      } finally {
        this.writing = undefined;
      }
    });
  }

  private async changeLocked<T>(write: (only: readonly string[] | undefined) => Promise<T>, apply: (s: VgSnapshot) => void, commits: number): Promise<T> {
    const base = await this.read();
    let out: T;
    try {
      out = await write(this.devices());
    } catch (err) {
      this.drop();
      throw err;
    }
    const st = base?.key ? await this.stamp(base) : undefined;
    if (base && this.snap === base && st?.seqno !== undefined && st.seqno === base.seqno + commits) {
      apply(base);
      base.seqno = st.seqno;
      base.key = st.key;
      this.counters.applied++;
    } else this.drop();
    return out;
  }

  drop(): void {
    if (this.snap) this.counters.dropped++;
    this.snap = undefined;
  }
}

function free(s: VgSnapshot, extents: number): void {
  s.vg = { ...s.vg, freeCount: s.vg.freeCount + extents, free: s.vg.free + extents * s.vg.extentSize };
}

const views = new WeakMap<Lvm, Map<string, VgView>>();

/** The one view of VG `vg` for this lvm runner (so every object of a domain in a host shares it). */
export function viewOf(lvm: Lvm, vg: string): VgView {
  let m = views.get(lvm);
  if (!m) {
    m = new Map();
    views.set(lvm, m);
  }
  let v = m.get(vg);
  if (!v) {
    v = new VgView(lvm, vg);
    m.set(vg, v);
  }
  return v;
}

/** Edits for `VgView.change`: what each of our lvm writes does to the VG. */
export const edits = {
  create(s: VgSnapshot, lv: LvInfo): void {
    s.lvs = [...s.lvs, lv];
    const n = lv.segments.reduce((k, g) => k + g.last - g.first + 1, 0);
    free(s, -n);
  },
  extend(s: VgSnapshot, name: string, toCount: number): void {
    // New objects, never edits: a caller may still hold the LV it read before.
    const lv = s.lvs.find((l) => l.name === name);
    const seg = lv?.segments[lv.segments.length - 1];
    if (!lv || !seg) return;
    const have = lv.segments.reduce((k, g) => k + g.last - g.first + 1, 0);
    const grown: LvInfo = { ...lv, size: toCount * s.vg.extentSize, segments: [...lv.segments.slice(0, -1), { ...seg, last: seg.last + toCount - have }] };
    s.lvs = s.lvs.map((l) => (l === lv ? grown : l));
    free(s, have - toCount);
  },
  remove(s: VgSnapshot, name: string): void {
    const lv = s.lvs.find((l) => l.name === name);
    if (!lv) return;
    const n = lv.segments.reduce((k, g) => k + g.last - g.first + 1, 0);
    s.lvs = s.lvs.filter((l) => l !== lv);
    free(s, n);
  },
  lvTags(s: VgSnapshot, name: string, add: readonly string[], del: readonly string[]): void {
    s.lvs = s.lvs.map((l) => (l.name === name ? { ...l, tags: edits.tags(l.tags, add, del) } : l));
  },
  vgTags(s: VgSnapshot, add: readonly string[], del: readonly string[]): void {
    s.vg = { ...s.vg, tags: edits.tags(s.vg.tags, add, del) };
  },
  tags(list: string[], add: readonly string[], del: readonly string[]): string[] {
    const out = list.filter((t) => !del.includes(t));
    for (const t of add) if (!out.includes(t)) out.push(t);
    return out;
  },
};

export type { LvInfo, PvInfo, VgInfo };
