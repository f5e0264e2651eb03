/**
 * The pool mailbox on real files laid out as dom_md/inbox and outbox (16 MiB each): VDSM's
 * message format, round trips between host and SPM, acks, and bad messages ignored and logged.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { closeSync, mkdtempSync, openSync, ftruncateSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import {
  checksum,
  decodeMessage,
  encodeRequest,
  HostMailbox,
  MAILBOX_SIZE,
  MESSAGE_SIZE,
  packUuid,
  type Request,
  seal,
  SpmMailbox,
  unpackUuid,
} from "../src/storage/mailbox/mailbox.js";

let dir: string;
let inbox: string;
let outbox: string;
const closers: (() => void)[] = [];

function mkfile(path: string) {
  const fd = openSync(path, "w");
  ftruncateSync(fd, 16 * 2 ** 20);
  closeSync(fd);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vela-mbox-"));
  inbox = join(dir, "inbox");
  outbox = join(dir, "outbox");
  mkfile(inbox);
  mkfile(outbox);
});
afterEach(() => {
  while (closers.length) closers.pop()!();
});

function spm(handler: (host: number, r: Request) => Promise<{ sizeMiB?: number } | undefined>) {
  const s = new SpmMailbox(inbox, outbox, handler, { maxHostID: 4, eventPollMs: 20, scanMs: 500 });
  s.start();
  closers.push(() => s.stop());
  return s;
}
function host(id: number) {
  const h = new HostMailbox(inbox, outbox, id, { pollMs: 10, timeoutMs: 5000 });
  closers.push(() => h.close());
  return h;
}

describe("format", () => {
  test("UUIDs are packed as the little-endian 128-bit integer", () => {
    const packed = packUuid("00112233-4455-6677-8899-aabbccddeeff");
    assert.equal(packed.toString("hex"), "ffeeddccbbaa99887766554433221100");
    assert.equal(unpackUuid(packed), "00112233-4455-6677-8899-aabbccddeeff");
  });

  test("an extend request is version, opcode, domain, volume, 16 hex chars of MiB, '0' padding", () => {
    const d = randomUUID();
    const v = randomUUID();
    const msg = encodeRequest({ op: "xtnd", domainID: d, volumeID: v, sizeMiB: 5120 });
    assert.equal(msg.length, MESSAGE_SIZE);
    assert.equal(msg.subarray(0, 5).toString("latin1"), "1xtnd");
    assert.equal(msg.subarray(37, 53).toString("latin1"), "0000000000001400");
    assert.equal(msg.subarray(53).toString("latin1"), "0".repeat(11));
    assert.deepEqual(decodeMessage(msg), { op: "xtnd", domainID: d, volumeID: v, sizeMiB: 5120 });
  });

  test("the checksum is the 32-bit little-endian sum of bytes 0..4091", () => {
    const block = Buffer.alloc(MAILBOX_SIZE);
    block[0] = 200;
    block[4091] = 100;
    block[4092] = 77; // the checksum's own bytes are not summed
    assert.equal(checksum(block), 300);
    seal(block);
    assert.equal(block.readUInt32LE(4092), 300);
  });
});

describe("round trips", () => {
  test("extend: the SPM sees the request, the host gets the granted size, the slot is freed", async () => {
    const seen: Request[] = [];
    spm(async (_h, r) => {
      seen.push(r);
      return { sizeMiB: r.op === "xtnd" ? r.sizeMiB : undefined };
    });
    const h = host(2);
    const d = randomUUID();
    const v = randomUUID();
    const reply = await h.send({ op: "xtnd", domainID: d, volumeID: v, sizeMiB: 2048 });
    assert.deepEqual(decodeMessage(reply), { op: "xtnd", domainID: d, volumeID: v, sizeMiB: 2048 });
    assert.deepEqual(seen, [{ op: "xtnd", domainID: d, volumeID: v, sizeMiB: 2048 }]);
    // A second request reuses the mailbox once the ack round finished.
    const again = await h.send({ op: "xtnd", domainID: d, volumeID: v, sizeMiB: 4096 });
    assert.equal((decodeMessage(again) as { sizeMiB: number }).sizeMiB, 4096);
  });

  test("a failed extend is answered with size 0", async () => {
    spm(async () => {
      throw new Error("no space");
    });
    const reply = await host(1).send({ op: "xtnd", domainID: randomUUID(), volumeID: randomUUID(), sizeMiB: 10 });
    assert.equal((decodeMessage(reply) as { sizeMiB: number }).sizeMiB, 0);
  });

  test("ping round trip through the event block is fast", async () => {
    spm(async () => ({}));
    const h = host(3);
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await h.send({ op: "ping", nonce: randomUUID() });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    assert.ok(times[5]! < 500, `p50 ${times[5]} ms is far under VDSM's 0.5–1 s`);
  });

  test("requests written before an SPM exists are answered by the next SPM after resend", async () => {
    const h = host(2);
    const p = h.send({ op: "ping", nonce: randomUUID() });
    await new Promise((r) => setTimeout(r, 100));
    spm(async () => ({}));
    h.resend();
    const reply = await p;
    assert.equal(decodeMessage(reply).op, "ping");
  });
});

describe("bad messages are ignored and logged", () => {
  function writeBlock(hostID: number, msgs: Buffer[], sealIt = true) {
    const block = Buffer.alloc(MAILBOX_SIZE);
    for (const [i, m] of msgs.entries()) m.copy(block, i * MESSAGE_SIZE);
    if (sealIt) seal(block);
    else block.writeUInt32LE(12345, MAILBOX_SIZE - 4);
    const fd = openSync(inbox, "r+");
    writeSync(fd, block, 0, MAILBOX_SIZE, hostID * MAILBOX_SIZE);
    closeSync(fd);
  }

  test("bad checksum, unknown opcode, out-of-range size: no handler call, each logged", async () => {
    let calls = 0;
    const s = spm(async () => {
      calls++;
      return {};
    });
    const good = encodeRequest({ op: "ping", nonce: randomUUID() });
    writeBlock(1, [good], false);
    const unknown = Buffer.from(good);
    unknown.write("zzzz", 1, "latin1");
    const huge = encodeRequest({ op: "xtnd", domainID: randomUUID(), volumeID: randomUUID(), sizeMiB: 1 });
    huge.write("ffffffffffffffff", 37, "latin1");
    writeBlock(2, [unknown, huge]);
    s.scan();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, 0);
    const reasons = s.ignored.map((x) => x.reason).join("; ");
    assert.match(reasons, /bad checksum/);
    assert.match(reasons, /unknown opcode/);
    assert.match(reasons, /out of range/);
  });

  test("a request the SPM refuses (foreign domain) is logged and not answered", async () => {
    const pool = new Set<string>([randomUUID()]);
    const s = spm(async (_h, r) => (r.op === "xtnd" && !pool.has(r.domainID) ? undefined : { sizeMiB: 1 }));
    const h = new HostMailbox(inbox, outbox, 4, { pollMs: 10, timeoutMs: 300 });
    closers.push(() => h.close());
    await assert.rejects(h.send({ op: "xtnd", domainID: randomUUID(), volumeID: randomUUID(), sizeMiB: 10 }), /no reply/);
    assert.ok(s.ignored.some((x) => x.reason === "refused by handler"));
  });
});
