/**
 * The election rules and the host id record format, as pure functions (no processes): who
 * contends when, in which order, and that a torn or foreign `ids` record is never trusted.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decide, type ElectionInput, LeaseWatch, rankOf, takeoverMs } from "../src/storage/spm/election.js";
import { decodeRecord, encodeRecord, type HostRecord, type HostView, ID_RECORD_SIZE } from "../src/storage/lease/hostid.js";
import { hostOfOwner, ownerOf } from "../src/storage/spm/spm.js";

const t = { leaseMs: 10_000, renewMs: 2000, opMaxMs: 1000, backoffMs: 4000 };
const host = (hostID: number, extra: Partial<HostView> = {}): HostView => ({
  hostID,
  uuid: `u${hostID}`,
  stampMs: 1,
  generation: 1,
  state: "free",
  priority: 5,
  autoElect: true,
  lver: -1,
  live: true,
  ageMs: 0,
  ...extra,
});
const input = (over: Partial<ElectionInput> = {}): ElectionInput => ({
  now: 100_000,
  me: { hostID: 2, priority: 5, autoElect: true, role: "Free" },
  lease: { owner: "h1.aaaa", stampUs: 1, unchangedMs: 60_000 },
  hosts: [host(1, { live: false, state: "spm" }), host(2), host(3)],
  noSpmSince: 100_000,
  holdUntil: 0,
  t,
  ...over,
});

describe("decide", () => {
  const me3 = { hostID: 3, priority: 5, autoElect: true, role: "Free" as const };
  test("the first host in line behind a live holder keeps a standby acquire; the next ones wait", () => {
    const live = { owner: "h1.aaaa", stampUs: 1, unchangedMs: 1000 };
    // Host 1 (the holder, still live in dom_md/ids) does not count in the ranking.
    const hosts = [host(1, { state: "spm" }), host(2), host(3)];
    assert.equal(decide(input({ lease: live, hosts })).action, "standby");
    assert.equal(decide(input({ lease: live, hosts, me: me3 })).action, "wait");
  });
  test("a dead holder's lease: the standby host keeps at it; the next rank steps in only after the standby could have won", () => {
    assert.equal(decide(input()).action, "standby");
    assert.equal(takeoverMs(t), 18_000, "lease + 8 × op_max");
    const dead = (unchangedMs: number) => ({ owner: "h1.aaaa", stampUs: 1, unchangedMs });
    assert.match(decide(input({ me: me3, lease: dead(18_000 + 3999) })).reason, /stepping in after 22000 ms/);
    assert.equal(decide(input({ me: me3, lease: dead(18_000 + 4000) })).action, "contend");
    // ... unless some host is contending already.
    const hosts = [host(1, { live: false }), host(2, { state: "contend" }), host(3)];
    assert.match(decide(input({ me: me3, hosts, lease: dead(60_000) })).reason, /host 2 is contending/);
  });
  test("the holder's host and hosts that say they are SPM are not ranked", () => {
    const hosts = [host(1, { priority: 9 }), host(2), host(3, { state: "spm", priority: 9 })];
    assert.equal(rankOf({ hostID: 2, priority: 5, autoElect: true, role: "Free" }, hosts), 1, "host 3 says SPM: only host 1 counts");
    assert.equal(rankOf({ hostID: 2, priority: 5, autoElect: true, role: "Free" }, [host(1, { priority: 9 }), host(2)], new Set([1])), 0);
    // A restarted agent may be first in line behind its own previous incarnation's lease.
    assert.equal(decide(input({ me: { hostID: 1, priority: 5, autoElect: true, role: "Free" }, hosts: [host(1), host(2), host(3)] })).action, "standby");
  });
  test("priority beats host id; priority 0 and auto-election off never contend", () => {
    const hosts = [host(1, { live: false }), host(2), host(3, { priority: 9 })];
    assert.equal(rankOf({ hostID: 2, priority: 5, autoElect: true, role: "Free" }, hosts), 1);
    assert.equal(rankOf({ hostID: 3, priority: 9, autoElect: true, role: "Free" }, hosts), 0);
    const lease = { owner: "h1.aaaa", stampUs: 1, unchangedMs: 1000 };
    assert.equal(decide(input({ hosts, lease })).action, "wait");
    assert.equal(decide(input({ hosts, lease, me: { hostID: 3, priority: 9, autoElect: true, role: "Free" } })).action, "standby");
    assert.equal(decide(input({ me: { hostID: 2, priority: 0, autoElect: true, role: "Free" } })).action, "wait");
    assert.equal(decide(input({ me: { hostID: 2, priority: 5, autoElect: false, role: "Free" } })).action, "wait");
  });
  test("a free lease gets one back-off of grace, one more per rank; a live contender is waited for, a dead one is not", () => {
    const free = { owner: null, stampUs: 0, unchangedMs: 0 };
    assert.equal(decide(input({ lease: free })).action, "wait");
    assert.equal(decide(input({ lease: free, now: 104_000 })).action, "contend");
    assert.equal(decide(input({ lease: free, now: 104_000, me: me3 })).action, "wait");
    assert.equal(decide(input({ lease: free, now: 108_000, me: me3 })).action, "contend");
    const at = 200_000;
    assert.match(decide(input({ lease: free, now: at, hosts: [host(2), host(3, { state: "contend" })] })).reason, /host 3 is contending/);
    assert.equal(decide(input({ lease: free, now: at, hosts: [host(2), host(3, { state: "contend", live: false })] })).action, "contend");
  });
  test("an explicit spmStop holds the host off; a host that is SPM or contending does nothing", () => {
    assert.match(decide(input({ holdUntil: 200_000 })).reason, /hold-off/);
    assert.equal(decide(input({ me: { hostID: 2, priority: 5, autoElect: true, role: "SPM" } })).action, "wait");
    assert.equal(decide(input({ me: { hostID: 2, priority: 5, autoElect: true, role: "Contend" } })).action, "wait");
  });
});

test("the lease watch measures a holder's silence on the local clock", () => {
  const w = new LeaseWatch();
  assert.equal(w.observe({ owner: "h1.x", stampUs: 5_000_000 }, 10_000).unchangedMs, 5000);
  assert.equal(w.observe({ owner: "h1.x", stampUs: 5_000_000 }, 12_000).unchangedMs, 7000);
  assert.equal(w.observe({ owner: "h1.x", stampUs: 6_000_000 }, 13_000).unchangedMs, 0);
});

test("lease owner ids carry the host id and fit safelease's 16 characters", () => {
  const o = ownerOf(2000, "0123456789ab");
  assert.ok(o.length <= 16);
  assert.equal(hostOfOwner(o), 2000);
  assert.equal(hostOfOwner("create-1234"), undefined);
  assert.equal(hostOfOwner(null), undefined);
});

test("host id records: round trip, torn or foreign records rejected", () => {
  const r: HostRecord = { hostID: 7, uuid: "3f1c", stampMs: 1795643327973, generation: 4, state: "spm", priority: 5, autoElect: true, lver: 12 };
  const buf = encodeRecord(r);
  assert.equal(buf.length, ID_RECORD_SIZE);
  assert.deepEqual(decodeRecord(buf), r);
  const torn = Buffer.from(buf);
  torn.write("9", buf.indexOf("gen=") + 4, "latin1");
  assert.equal(decodeRecord(torn), undefined, "checksum catches a changed field");
  assert.equal(decodeRecord(Buffer.alloc(ID_RECORD_SIZE)), undefined, "an empty slot is no host");
  assert.equal(decodeRecord(Buffer.from("sanlock delta lease\n".padEnd(512, "\0"))), undefined);
});
