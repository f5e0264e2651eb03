/**
 * The pool mailbox, in VDSM's on-disk format, on the master domain's dom_md/inbox and outbox.
 * Non-SPM hosts ask the SPM for metadata changes (today: extend a volume; a no-op ping for
 * liveness and round-trip measurement) by writing 64-byte messages into their own 4 KiB block of
 * the inbox; the SPM answers in the same slot of the outbox. This module must never change pool
 * metadata itself: the SPM side hands each valid request to a callback and writes its answer.
 *
 * Layout (storage-format.md): host N's block at N × 4096; 63 message slots of 64 bytes, the last
 * slot reserved, its last 4 bytes a checksum (sum of bytes 0..4091, little-endian 32-bit).
 * Block 0 of the inbox carries events ("\0evt" + random id) so the SPM polls 4 KiB often and
 * scans everything less often.
 */
import { randomBytes } from "node:crypto";
import { closeSync, constants, fdatasyncSync, openSync, readSync, writeSync } from "node:fs";
import type { Logger } from "../../log.js";

export const MAILBOX_SIZE = 4096;
export const MESSAGE_SIZE = 64;
export const MESSAGES_PER_MAILBOX = MAILBOX_SIZE / MESSAGE_SIZE - 1;
export const CHECKSUM_BYTES = 4;
const VERSION = 0x31; // '1'
const SIZE_CHARS = 16;
/** VDSM's bound on a requested size (in MiB) in an extend message. */
export const MAX_EXTEND_MIB = 0xffffffff;
const CLEAN = Buffer.alloc(MESSAGE_SIZE, 1);
const EMPTY = Buffer.alloc(MESSAGE_SIZE, 0);

// ---- format ---------------------------------------------------------------------------------

/** A UUID as VDSM packs it: the 128-bit integer in little-endian (RFC 4122 bytes reversed). */
export function packUuid(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return Buffer.from(hex, "hex").reverse();
}

export function unpackUuid(buf: Buffer): string {
  const h = Buffer.from(buf).reverse().toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export type Request =
  | { op: "xtnd"; domainID: string; volumeID: string; sizeMiB: number }
  | { op: "ping"; nonce: string };

export type Decoded = Request | { op: "empty" } | { op: "clean" } | { op: "invalid"; reason: string };

function padded(head: Buffer): Buffer {
  const out = Buffer.alloc(MESSAGE_SIZE, 0x30); // VDSM pads with the character '0'
  head.copy(out);
  return out;
}

export function encodeRequest(r: Request): Buffer {
  if (r.op === "xtnd") {
    if (!Number.isSafeInteger(r.sizeMiB) || r.sizeMiB < 0 || r.sizeMiB > MAX_EXTEND_MIB) throw new Error(`size out of range: ${r.sizeMiB}`);
    const size = Buffer.from(r.sizeMiB.toString(16).padStart(SIZE_CHARS, "0"), "ascii");
    return padded(Buffer.concat([Buffer.from([VERSION]), Buffer.from("xtnd"), packUuid(r.domainID), packUuid(r.volumeID), size]));
  }
  return padded(Buffer.concat([Buffer.from([VERSION]), Buffer.from("ping"), packUuid(r.nonce)]));
}

export function decodeMessage(msg: Buffer): Decoded {
  if (msg.equals(EMPTY) || msg[0] === 0x30 || msg[0] === 0) return { op: "empty" };
  if (msg.equals(CLEAN)) return { op: "clean" };
  if (msg[0] !== VERSION) return { op: "invalid", reason: `unknown version byte 0x${msg[0]!.toString(16)}` };
  const op = msg.subarray(1, 5).toString("latin1");
  if (op === "xtnd") {
    const sizeTxt = msg.subarray(37, 37 + SIZE_CHARS).toString("latin1");
    if (!/^[0-9a-f]{16}$/.test(sizeTxt)) return { op: "invalid", reason: `bad size field ${JSON.stringify(sizeTxt)}` };
    const sizeMiB = Number.parseInt(sizeTxt, 16);
    if (sizeMiB > MAX_EXTEND_MIB) return { op: "invalid", reason: `size ${sizeMiB} MiB out of range` };
    return { op: "xtnd", domainID: unpackUuid(msg.subarray(5, 21)), volumeID: unpackUuid(msg.subarray(21, 37)), sizeMiB };
  }
  if (op === "ping") return { op: "ping", nonce: unpackUuid(msg.subarray(5, 21)) };
  return { op: "invalid", reason: `unknown opcode ${JSON.stringify(op)}` };
}

/** A failure reply: the request with its size set to 0 (VDSM's convention). */
export function failureReply(request: Buffer): Buffer {
  const r = Buffer.from(request);
  if (r.subarray(1, 5).toString("latin1") === "xtnd") r.write("0".repeat(SIZE_CHARS), 37, "latin1");
  return r;
}

export function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < MAILBOX_SIZE - CHECKSUM_BYTES; i++) sum += block[i]!;
  return sum >>> 0;
}

export function seal(block: Buffer): Buffer {
  block.writeUInt32LE(checksum(block), MAILBOX_SIZE - CHECKSUM_BYTES);
  return block;
}

export function isSealed(block: Buffer): boolean {
  return block.readUInt32LE(MAILBOX_SIZE - CHECKSUM_BYTES) === checksum(block);
}

// ---- I/O --------------------------------------------------------------------------------------

/**
 * Reads and writes whole 4 KiB blocks at block-aligned offsets, synchronously durable
 * (O_DSYNC). Local and POSIX file domains share the page cache between hosts on one machine;
 * NFS would need O_DIRECT, which Node buffers cannot guarantee alignment for (a known limit).
 */
export class BlockFile {
  private readonly fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, constants.O_RDWR | constants.O_DSYNC);
  }
  read(offset: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf;
  }
  write(offset: number, data: Buffer): void {
    writeSync(this.fd, data, 0, data.length, offset);
  }
  sync(): void {
    fdatasyncSync(this.fd);
  }
  close(): void {
    closeSync(this.fd);
  }
}

// ---- host side --------------------------------------------------------------------------------

interface Pending {
  slot: number;
  request: Buffer;
  resolve: (reply: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  answered: boolean;
}

export interface HostMailboxOptions {
  /** How often the host looks for replies in the outbox. */
  pollMs?: number;
  /** How long a request may wait for its reply. */
  timeoutMs?: number;
  log?: Logger;
}

/** A non-SPM host's (or the SPM's own) view: send requests, await replies, ack them. */
export class HostMailbox {
  private readonly inbox: BlockFile;
  private readonly outbox: BlockFile;
  private readonly block = Buffer.alloc(MAILBOX_SIZE);
  private readonly pending = new Map<number, Pending>();
  /** Slots acked with CLEAN, waiting for the SPM's CLEAN echo before reuse. */
  private readonly draining = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly pollMs: number;
  private readonly timeoutMs: number;

  constructor(
    inboxPath: string,
    outboxPath: string,
    readonly hostID: number,
    opts: HostMailboxOptions = {},
  ) {
    if (!Number.isInteger(hostID) || hostID < 1) throw new Error(`bad host id ${hostID}`);
    this.inbox = new BlockFile(inboxPath);
    this.outbox = new BlockFile(outboxPath);
    this.pollMs = opts.pollMs ?? 20;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.flush(); // start from an empty mailbox: stale requests of a previous run are void
  }

  private get offset(): number {
    return this.hostID * MAILBOX_SIZE;
  }

  private flush(): void {
    this.inbox.write(this.offset, seal(this.block));
  }

  /** Tells the SPM to look now rather than at its next full scan. */
  private event(): void {
    const ev = Buffer.alloc(MESSAGE_SIZE, 0);
    ev.write("\0evt", 0, "latin1");
    randomBytes(16).copy(ev, 4);
    this.inbox.write(0, ev);
  }

  send(request: Request): Promise<Buffer> {
    const slot = this.freeSlot();
    if (slot < 0) return Promise.reject(new Error("mailbox full: 63 requests in flight"));
    const msg = encodeRequest(request);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.release(slot);
        reject(new Error(`no reply from the SPM in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(slot, { slot, request: msg, resolve, reject, timer, answered: false });
      msg.copy(this.block, slot * MESSAGE_SIZE);
      this.flush();
      this.event();
      this.ensurePolling();
    });
  }

  /** After an SPM change: write every unanswered request again and signal the new SPM. */
  resend(): void {
    for (const p of this.pending.values()) if (!p.answered) p.request.copy(this.block, p.slot * MESSAGE_SIZE);
    this.flush();
    this.event();
  }

  private freeSlot(): number {
    for (let i = 0; i < MESSAGES_PER_MAILBOX; i++) if (!this.pending.has(i) && !this.draining.has(i)) return i;
    return -1;
  }

  private release(slot: number): void {
    const p = this.pending.get(slot);
    if (p) clearTimeout(p.timer);
    this.pending.delete(slot);
    this.draining.delete(slot);
    EMPTY.copy(this.block, slot * MESSAGE_SIZE);
    this.flush();
  }

  private ensurePolling(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.pollMs);
  }

  private poll(): void {
    const out = this.outbox.read(this.offset, MAILBOX_SIZE);
    let ack = false;
    for (const p of [...this.pending.values()]) {
      const reply = out.subarray(p.slot * MESSAGE_SIZE, (p.slot + 1) * MESSAGE_SIZE);
      if (!p.answered && reply.subarray(0, 37).equals(p.request.subarray(0, 37))) {
        p.answered = true;
        clearTimeout(p.timer);
        p.resolve(Buffer.from(reply));
        // Ack: CLEAN in our slot; the slot is reusable once the SPM echoes CLEAN. The two synced
        // writes wait for the next turn: the requester (a thin drive's refresh) goes first.
        CLEAN.copy(this.block, p.slot * MESSAGE_SIZE);
        this.draining.add(p.slot);
        ack = true;
      }
    }
    if (ack) {
      setImmediate(() => {
        if (this.closed) return;
        this.flush();
        this.event();
      });
    }
    for (const slot of [...this.draining]) {
      const reply = out.subarray(slot * MESSAGE_SIZE, (slot + 1) * MESSAGE_SIZE);
      if (reply.equals(CLEAN)) this.release(slot);
    }
    if (this.pending.size === 0 && this.draining.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private closed = false;

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      if (!p.answered) p.reject(new Error("mailbox closed"));
    }
    this.pending.clear();
    this.inbox.close();
    this.outbox.close();
  }
}

// ---- SPM side ---------------------------------------------------------------------------------

/**
 * The SPM's answer to a request: for extend, the size actually granted (0 = failed); undefined
 * when the request is refused as invalid (a foreign domain), which is logged and not answered.
 */
export type RequestHandler = (hostID: number, request: Request) => Promise<{ sizeMiB?: number } | undefined>;

export interface SpmMailboxOptions {
  maxHostID: number;
  /** How often the event block is read (VDSM: 500 ms). */
  eventPollMs?: number;
  /** How often every host's block is read (VDSM: 2 s). */
  scanMs?: number;
  log?: Logger;
}

/** The SPM's mail monitor: reads requests, runs them one host-slot at a time, writes replies. */
export class SpmMailbox {
  private readonly inbox: BlockFile;
  private readonly outbox: BlockFile;
  private lastEvent: Buffer = Buffer.alloc(MESSAGE_SIZE);
  private readonly seen = new Map<number, Buffer>();
  private readonly busy = new Set<string>();
  private eventTimer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Messages ignored, by reason, for tests and monitoring. */
  readonly ignored: { hostID: number; slot: number; reason: string }[] = [];

  constructor(
    inboxPath: string,
    outboxPath: string,
    private readonly handler: RequestHandler,
    private readonly opts: SpmMailboxOptions,
  ) {
    this.inbox = new BlockFile(inboxPath);
    this.outbox = new BlockFile(outboxPath);
  }

  start(): void {
    this.eventTimer = setInterval(() => this.checkEvent(), this.opts.eventPollMs ?? 50);
    this.scanTimer = setInterval(() => this.scan(), this.opts.scanMs ?? 2000);
    this.scan();
  }

  private checkEvent(): void {
    const ev = this.inbox.read(0, MESSAGE_SIZE);
    if (!ev.equals(this.lastEvent)) {
      this.lastEvent = ev;
      this.scan();
    }
  }

  /** Reads all host blocks and handles what changed. */
  scan(): void {
    if (this.stopped) return;
    const all = this.inbox.read(0, (this.opts.maxHostID + 1) * MAILBOX_SIZE);
    for (let host = 1; host <= this.opts.maxHostID; host++) {
      const block = all.subarray(host * MAILBOX_SIZE, (host + 1) * MAILBOX_SIZE);
      const prev = this.seen.get(host);
      if (prev?.equals(block)) continue;
      this.seen.set(host, Buffer.from(block));
      if (block.equals(Buffer.alloc(MAILBOX_SIZE))) continue;
      if (!isSealed(block)) {
        this.ignore(host, -1, "bad checksum");
        continue;
      }
      for (let slot = 0; slot < MESSAGES_PER_MAILBOX; slot++) this.handleSlot(host, slot, block, prev);
    }
  }

  private handleSlot(host: number, slot: number, block: Buffer, prev: Buffer | undefined): void {
    const at = slot * MESSAGE_SIZE;
    const msg = Buffer.from(block.subarray(at, at + MESSAGE_SIZE));
    if (prev?.subarray(at, at + MESSAGE_SIZE).equals(msg)) return;
    const d = decodeMessage(msg);
    const outAt = host * MAILBOX_SIZE + at;
    if (d.op === "empty") return;
    if (d.op === "clean") {
      this.outbox.write(outAt, CLEAN);
      return;
    }
    if (d.op === "invalid") {
      this.ignore(host, slot, d.reason);
      return;
    }
    const key = `${host}/${slot}`;
    if (this.busy.has(key)) return;
    this.busy.add(key);
    void this.handler(host, d)
      .then(
        (r) => {
          if (r === undefined) return undefined; // refused (e.g. a foreign domain): not answered
          if (d.op === "xtnd") return r?.sizeMiB ? encodeRequest({ ...d, sizeMiB: r.sizeMiB }) : failureReply(msg);
          return msg;
        },
        (err: unknown) => {
          this.opts.log?.warn({ host, slot, err: String(err) }, "mailbox request failed");
          return failureReply(msg);
        },
      )
      .then((reply) => {
        if (reply === undefined) {
          this.ignore(host, slot, "refused by handler");
          return;
        }
        if (!this.stopped) this.outbox.write(outAt, reply);
      })
      .finally(() => this.busy.delete(key));
  }

  private ignore(hostID: number, slot: number, reason: string): void {
    this.ignored.push({ hostID, slot, reason });
    if (this.ignored.length > 1000) this.ignored.shift();
    this.opts.log?.warn({ hostID, slot, reason }, "mailbox message ignored");
  }

  stop(): void {
    this.stopped = true;
    if (this.eventTimer) clearInterval(this.eventTimer);
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.inbox.close();
    this.outbox.close();
  }
}
