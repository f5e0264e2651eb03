/**
 * The pool mailbox wired into a connected pool: every connected host keeps a HostMailbox on the
 * master domain's dom_md/inbox and outbox (its own 4 KiB block); the SPM also runs the SpmMailbox
 * monitor (event poll 20 ms, full scan 2 s) and answers `ping` and `xtnd`. When the SPM changes,
 * the hosts write their unanswered requests again for the new SPM. Never acts on a request while
 * this host is not a valid SPM, and never extends a volume of a domain outside the pool (such a
 * request is logged and left unanswered, as VDSM did).
 */
import { join } from "node:path";
import { VdsmError } from "@vela/protocol";
import type { Logger } from "../../log.js";
import { BlockDomain, type GrowTimes } from "../domain/block.js";
import type { StorageDomain } from "../domain/driver.js";
import type { FileDomain } from "../domain/file.js";
import { asFile } from "../domain/index.js";
import { exists } from "../fileutil.js";
import { type Decoded, decodeMessage, HostMailbox, type Request, SpmMailbox } from "./mailbox.js";
import { readMeta } from "../volume/volume.js";

const MiB = 2 ** 20;

export interface PoolMailboxDeps {
  master: StorageDomain;
  hostID: number;
  log: Logger;
  /** Domain UUIDs of the pool (from the master's POOL_DOMAINS), read fresh unless `sdUUID` is a known member. */
  poolDomains(sdUUID: string): Promise<Set<string>>;
  /** Throws unless this host is the valid SPM (lease fresh, LVER ours). */
  assertSpm(): void;
  /** Extends a volume's allocation to at least `sizeMiB`; returns the size granted, in MiB. */
  /** `times` gets where the SPM's time went (block volumes), for the log line. */
  extend(sdUUID: string, volUUID: string, sizeMiB: number, times?: GrowTimes): Promise<number>;
  /** Host-side poll interval (ms) and request timeout. */
  pollMs?: number;
  timeoutMs?: number;
}

export interface MailboxReply {
  reply: Decoded;
  elapsedMs: number;
}

export class PoolMailbox {
  private readonly host: HostMailbox;
  private spm: SpmMailbox | undefined;
  readonly inboxPath: string;
  readonly outboxPath: string;
  /** Requests handled as SPM, for status and tests. */
  handled = 0;

  constructor(private readonly d: PoolMailboxDeps) {
    this.inboxPath = join(d.master.mdDir, "inbox");
    this.outboxPath = join(d.master.mdDir, "outbox");
    this.host = new HostMailbox(this.inboxPath, this.outboxPath, d.hostID, {
      // 10 ms: a thin extension waits for this poll (polling runs only while requests are pending).
      pollMs: d.pollMs ?? 10,
      timeoutMs: d.timeoutMs ?? 180_000,
      log: d.log,
    });
  }

  get spmRunning(): boolean {
    return this.spm !== undefined;
  }

  /** Starts answering requests (this host just became SPM). */
  startSpm(maxHostID: number): void {
    if (this.spm) return;
    this.spm = new SpmMailbox(this.inboxPath, this.outboxPath, (h, r) => this.handle(h, r), {
      maxHostID,
      // A 64-byte read each 10 ms: half of a thin extension's mailbox time was this wait at 20 ms.
      eventPollMs: 10,
      scanMs: 2000,
      log: this.d.log,
    });
    this.spm.start();
    this.d.log.info({ maxHostID }, "SPM mailbox monitor started");
  }

  /** Stops answering at once (SPM stopped or fenced); replies being computed are dropped. */
  stopSpm(): void {
    const s = this.spm;
    this.spm = undefined;
    if (s) {
      s.stop();
      this.d.log.info("SPM mailbox monitor stopped");
    }
  }

  /** Messages the SPM side ignored (bad or refused), newest last. */
  ignored(): { hostID: number; slot: number; reason: string }[] {
    return this.spm ? [...this.spm.ignored] : [];
  }

  private async handle(hostID: number, r: Request): Promise<{ sizeMiB?: number } | undefined> {
    this.d.assertSpm();
    this.handled++;
    if (r.op === "ping") return {};
    const members = await this.d.poolDomains(r.domainID);
    if (!members.has(r.domainID)) {
      this.d.log.warn({ hostID, sdUUID: r.domainID, volUUID: r.volumeID }, "extend request for a domain outside the pool refused");
      return undefined;
    }
    const t0 = performance.now();
    const times: GrowTimes = {};
    const granted = await this.d.extend(r.domainID, r.volumeID, r.sizeMiB, times);
    this.d.log.info({ hostID, sdUUID: r.domainID, volUUID: r.volumeID, sizeMiB: r.sizeMiB, granted, ms: Number((performance.now() - t0).toFixed(1)), ...times }, "extend request handled");
    return { sizeMiB: granted };
  }

  /** Sends a request to whichever host is SPM and waits for its reply. */
  async send(req: Request, timeoutMs: number): Promise<MailboxReply> {
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new VdsmError("ResourceTimeout", `no mailbox reply from the SPM in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const raw = await Promise.race([this.host.send(req), timeout]);
      return { reply: decodeMessage(raw), elapsedMs: performance.now() - t0 };
    } catch (err) {
      if (err instanceof VdsmError) throw err;
      throw new VdsmError("StorageException", `mailbox: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The SPM changed: unanswered requests are written again and the new SPM is signalled. */
  resend(): void {
    this.host.resend();
  }

  close(): void {
    this.stopSpm();
    this.host.close();
  }
}

/** What an `xtnd` request runs on the SPM, by the domain's driver. Answers the size granted (MiB). */
export async function extendVolume(dom: StorageDomain, volUUID: string, sizeMiB: number, times?: GrowTimes): Promise<number> {
  if (dom instanceof BlockDomain) return extendBlockVolume(dom, volUUID, sizeMiB, times);
  return extendFileVolume(asFile(dom), volUUID, sizeMiB);
}

/**
 * The SPM's extend for block volumes: lvextend in place (metadata only) up to the size asked,
 * never past VDSM's cap for a thin volume (capacity × 1.1); the LV grows in whole extents.
 */
export async function extendBlockVolume(dom: BlockDomain, volUUID: string, sizeMiB: number, times?: GrowTimes): Promise<number> {
  return dom.extendThin(volUUID, sizeMiB, times);
}

/**
 * The SPM's extend for file volumes: files grow by themselves, so extending means checking the
 * volume is there and usable and granting the size.
 */
export async function extendFileVolume(dom: FileDomain, volUUID: string, sizeMiB: number): Promise<number> {
  for (const img of await dom.listImages()) {
    if (!(await exists(join(dom.imageDir(img), `${volUUID}.meta`)))) continue;
    const md = await readMeta(dom, img, volUUID);
    if (md.LEGALITY !== "LEGAL") throw new VdsmError("VolumeExtendingError", `${volUUID} is ${md.LEGALITY}`);
    // Never grant more than VDSM's cap for a thin volume: capacity × 1.1.
    return Math.min(sizeMiB, Math.ceil((md.CAP * 1.1) / MiB));
  }
  throw new VdsmError("VolumeDoesNotExist", `${volUUID} in ${dom.sdUUID}`);
}
