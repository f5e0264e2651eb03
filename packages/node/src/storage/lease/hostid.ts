/**
 * Host ids and liveness on the master domain's `dom_md/ids`: each connected host owns the 512-byte
 * record at (hostID − 1) × 512 and rewrites it every few seconds with a timestamp, its host UUID,
 * a generation (bumped at each connect) and what it is doing in the pool (free, contending, SPM,
 * with its SPM priority), so any host can tell who is alive without asking anyone.
 * This replaces the sanlock delta leases VDSM kept in the same file; liveness here is advisory
 * (election back-off, status), never a license to write: the SPM lease and LVER are.
 * Never writes any record but its own, and never trusts a record whose checksum is wrong.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { VdsmError } from "@vela/protocol";
import type { Logger } from "../../log.js";

export const ID_RECORD_SIZE = 512;
/** VDSM/sanlock allow host ids 1..2000. */
export const MAX_HOST_ID = 2000;
const MAGIC = "VELA-HOSTID/1";

export type HostState = "free" | "contend" | "spm" | "gone";

export interface HostRecord {
  hostID: number;
  uuid: string;
  /** Wall-clock ms of the last renewal (0 once the host left the pool cleanly). */
  stampMs: number;
  generation: number;
  state: HostState;
  priority: number;
  autoElect: boolean;
  lver: number;
}

export function encodeRecord(r: HostRecord): Buffer {
  const body = `${MAGIC} id=${r.hostID} uuid=${r.uuid} ts=${r.stampMs} gen=${r.generation} state=${r.state} prio=${r.priority} auto=${r.autoElect ? 1 : 0} lver=${r.lver}`;
  const sum = createHash("sha1").update(body).digest("hex").slice(0, 16);
  const buf = Buffer.alloc(ID_RECORD_SIZE, 0);
  buf.write(`${body} sum=${sum}\n`, 0, "latin1");
  return buf;
}

/** The record, or undefined for an empty, torn or foreign slot. */
export function decodeRecord(buf: Buffer): HostRecord | undefined {
  const end = buf.indexOf(0x0a);
  if (end <= 0) return undefined;
  const line = buf.subarray(0, end).toString("latin1");
  const m = /^(.*) sum=([0-9a-f]{16})$/.exec(line);
  if (!m || !m[1]!.startsWith(`${MAGIC} `)) return undefined;
  if (createHash("sha1").update(m[1]!).digest("hex").slice(0, 16) !== m[2]) return undefined;
  const kv = new Map(m[1]!.slice(MAGIC.length + 1).split(" ").map((t) => t.split("=", 2) as [string, string]));
  const num = (k: string) => (/^-?[0-9]+$/.test(kv.get(k) ?? "") ? Number(kv.get(k)) : Number.NaN);
  const state = kv.get("state");
  if (state !== "free" && state !== "contend" && state !== "spm" && state !== "gone") return undefined;
  const r: HostRecord = {
    hostID: num("id"),
    uuid: kv.get("uuid") ?? "",
    stampMs: num("ts"),
    generation: num("gen"),
    state,
    priority: num("prio"),
    autoElect: kv.get("auto") === "1",
    lver: num("lver"),
  };
  if ([r.hostID, r.stampMs, r.generation, r.priority, r.lver].some((n) => Number.isNaN(n))) return undefined;
  return r;
}

export interface HostIdsOptions {
  /** How often the record is rewritten. */
  renewMs: number;
  /** A host whose record did not change for this long is dead to the others. */
  timeoutMs: number;
  log: Logger;
}

/** What this host publishes besides its heartbeat. */
export interface Published {
  state: HostState;
  priority: number;
  autoElect: boolean;
  lver: number;
}

export interface HostView extends HostRecord {
  live: boolean;
  /** ms since this host last saw the record change (or since its stamp, at first sight). */
  ageMs: number;
}

/** This host's record in `ids`, renewed in the background, and everyone's records, read on demand. */
export class HostIds {
  private fh: FileHandle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  private pub: Published;
  private writing: Promise<void> = Promise.resolve();
  private lastOk = 0;
  private failures = 0;
  /** Per host: the last stamp seen and when (local clock) it was seen to change. */
  private readonly seen = new Map<number, { stampMs: number; gen: number; changedAt: number }>();

  constructor(
    readonly path: string,
    readonly hostID: number,
    readonly uuid: string,
    private readonly opts: HostIdsOptions,
    initial: Published,
  ) {
    if (!Number.isInteger(hostID) || hostID < 1 || hostID > MAX_HOST_ID) throw new VdsmError("InvalidParameter", `host id ${hostID}`);
    this.pub = { ...initial };
  }

  private get offset(): number {
    return (this.hostID - 1) * ID_RECORD_SIZE;
  }

  /**
   * Takes the slot: refuses one that another live host (a different UUID renewing it now) holds,
   * then writes the first heartbeat with the next generation and starts renewing.
   */
  async start(): Promise<void> {
    this.fh = await open(this.path, constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC, 0o660);
    const buf = Buffer.alloc(ID_RECORD_SIZE);
    await this.fh.read(buf, 0, ID_RECORD_SIZE, this.offset);
    const old = decodeRecord(buf);
    if (old && old.uuid !== this.uuid && old.state !== "gone" && Date.now() - old.stampMs < this.opts.timeoutMs) {
      await this.fh.close();
      this.fh = undefined;
      throw new VdsmError("StoragePoolConnectionError", `host id ${this.hostID} is in use by live host ${old.uuid}`);
    }
    this.generation = (old?.generation ?? 0) + 1;
    await this.write();
    this.schedule();
  }

  /** Changes what this host publishes and writes it at once (others see a contender early). */
  publish(p: Partial<Published>): Promise<void> {
    this.pub = { ...this.pub, ...p };
    return this.write();
  }

  get published(): Published {
    return { ...this.pub };
  }

  /** ms since the last successful heartbeat write. */
  sinceLastWrite(): number {
    return this.lastOk ? Date.now() - this.lastOk : Number.POSITIVE_INFINITY;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.write().finally(() => {
        if (this.fh) this.schedule();
      });
    }, this.opts.renewMs);
    this.timer.unref();
  }

  private write(state?: HostState, stampMs?: number): Promise<void> {
    // Serialized so a slow write cannot land after a newer one.
    this.writing = this.writing.then(async () => {
      const fh = this.fh;
      if (!fh) return;
      const rec: HostRecord = {
        hostID: this.hostID,
        uuid: this.uuid,
        stampMs: stampMs ?? Date.now(),
        generation: this.generation,
        state: state ?? this.pub.state,
        priority: this.pub.priority,
        autoElect: this.pub.autoElect,
        lver: this.pub.lver,
      };
      try {
        await fh.write(encodeRecord(rec), 0, ID_RECORD_SIZE, this.offset);
        this.lastOk = Date.now();
        if (this.failures) this.opts.log.info({ hostID: this.hostID }, "host id heartbeat writes again");
        this.failures = 0;
      } catch (err) {
        if (this.failures++ === 0) this.opts.log.error({ err, path: this.path }, "host id heartbeat write failed");
      }
    });
    return this.writing;
  }

  /** Every host's record, with liveness judged by this host's own observation of changes. */
  async readAll(maxHostID = MAX_HOST_ID): Promise<HostView[]> {
    const fh = this.fh ?? (await open(this.path, "r"));
    const buf = Buffer.alloc(maxHostID * ID_RECORD_SIZE);
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(buf, 0, buf.length, 0));
    } finally {
      if (fh !== this.fh) await fh.close();
    }
    const now = Date.now();
    const out: HostView[] = [];
    for (let off = 0; off + ID_RECORD_SIZE <= n; off += ID_RECORD_SIZE) {
      const r = decodeRecord(buf.subarray(off, off + ID_RECORD_SIZE));
      if (!r || r.hostID !== off / ID_RECORD_SIZE + 1) continue;
      out.push(this.judge(r, now));
    }
    return out;
  }

  private judge(r: HostRecord, now: number): HostView {
    const prev = this.seen.get(r.hostID);
    let changedAt: number;
    if (!prev) {
      // First sight: trust the writer's clock (hosts are NTP-synchronised), never into the future.
      changedAt = Math.min(now, r.stampMs);
    } else if (prev.stampMs !== r.stampMs || prev.gen !== r.generation) {
      changedAt = now;
    } else {
      changedAt = prev.changedAt;
    }
    this.seen.set(r.hostID, { stampMs: r.stampMs, gen: r.generation, changedAt });
    const ageMs = now - changedAt;
    const self = r.hostID === this.hostID && r.uuid === this.uuid;
    const live = r.state !== "gone" && r.stampMs > 0 && (self ? this.sinceLastWrite() < this.opts.timeoutMs : ageMs < this.opts.timeoutMs);
    return { ...r, live, ageMs };
  }

  /** Marks the slot as left (others stop counting this host at once) and stops renewing. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.write("gone", 0);
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}
