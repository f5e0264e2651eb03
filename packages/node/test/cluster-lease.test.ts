/**
 * The standby acquire the election relies on (election.ts, cluster.ts), against Debian's real
 * `safelease`: an acquire started while the holder renews fails without ever writing the record;
 * aborted while it waits, it is killed and has written nothing; aborted once it may be writing,
 * the abort is ignored and it runs to its end; started right after a holder's last renewal it
 * takes the lease over, and never sooner than lease + 6 × op_max after that renewal's stamp.
 * The four cases run at once, each on its own lease file, so the file takes about one takeover.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { VdsmError } from "@vela/protocol";
import { createLogger } from "../src/log.js";
import { type LeaseParams, type LeaseRecord, SafeLease } from "../src/storage/lease/index.js";
import { sleep } from "./cluster-support.js";

const dir = mkdtempSync(join(tmpdir(), "vela-lease-"));
const lock = new SafeLease(createLogger("cluster-lease-test"));

async function leaseFile(name: string): Promise<LeaseParams> {
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(1024 * 1024));
  await lock.init(path, 0);
  return { path, offset: 0, leaseMs: 4000, opMaxMs: 1000, renewMs: 1000 };
}

/** Every distinct record seen while `p` runs (read every 20 ms). */
async function recordsDuring<T>(p: LeaseParams, work: Promise<T>): Promise<{ result: PromiseSettledResult<T>; seen: LeaseRecord[] }> {
  const seen: LeaseRecord[] = [];
  let done = false;
  const settled = Promise.allSettled([work]).then(([r]) => {
    done = true;
    return r!;
  });
  while (!done) {
    const r = await lock.inspect(p.path, p.offset);
    const last = seen.at(-1);
    if (!last || last.owner !== r.owner || last.stampUs !== r.stampUs) seen.push(r);
    await sleep(20);
  }
  return { result: await settled, seen };
}

const owners = (seen: LeaseRecord[]) => [...new Set(seen.map((r) => r.owner))];

describe("safelease standby acquire", { concurrency: true }, () => {
  test("against a renewing holder: fails at the end of its wait, and never writes", async () => {
    const p = await leaseFile("live");
    const holder = await lock.acquire(p, "holder");
    const { result, seen } = await recordsDuring(p, lock.acquire(p, "standby"));
    assert.equal(result.status, "rejected");
    assert.ok((result as PromiseRejectedResult).reason instanceof VdsmError);
    assert.match(String((result as PromiseRejectedResult).reason.message), /held by another host/);
    assert.deepEqual(owners(seen), ["holder"], "only the holder's stamps were ever in the record");
    assert.ok(seen.length >= 3, `the holder kept renewing meanwhile (${seen.length} stamps)`);
    await holder.release();
  });

  test("aborted while waiting out the holder: killed, nothing written, the holder unaffected", async () => {
    const p = await leaseFile("abort");
    const holder = await lock.acquire(p, "holder");
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 1500);
    const { result, seen } = await recordsDuring(p, lock.acquire(p, "standby", { signal: ctl.signal }));
    assert.equal(result.status, "rejected");
    assert.match(String((result as PromiseRejectedResult).reason.message), /aborted while waiting/);
    assert.deepEqual(owners(seen), ["holder"]);
    const before = holder.lastRenewal();
    await sleep(2500);
    assert.ok(holder.lastRenewal() > before, "the holder still renews");
    await holder.release();
  });

  test("aborted once it may be writing (a free record is contended at once): the abort is ignored", async () => {
    const p = await leaseFile("free");
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 300);
    const won = await lock.acquire(p, "standby", { signal: ctl.signal });
    assert.equal((await lock.inspect(p.path, p.offset)).owner, "standby");
    await won.release();
    assert.equal((await lock.inspect(p.path, p.offset)).owner, null);
  });

  test("started right after a holder's last renewal: takes the lease over, not before lease + 6 × op_max", async () => {
    const p = await leaseFile("dead");
    const holder = await lock.acquire(p, "holder");
    holder.abandon("test: the holder dies"); // stops renewing, leaves its stamp
    const last = await lock.inspect(p.path, p.offset);
    const { result, seen } = await recordsDuring(p, lock.acquire(p, "standby"));
    assert.equal(result.status, "fulfilled");
    const taken = seen.find((r) => r.owner === "standby");
    assert.ok(taken, "the standby's stamp is in the record");
    assert.ok(
      taken.stampUs - last.stampUs >= (p.leaseMs + 6 * p.opMaxMs) * 1000,
      `first standby stamp ${(taken.stampUs - last.stampUs) / 1000} ms after the holder's last one`,
    );
    await (result as PromiseFulfilledResult<Awaited<ReturnType<typeof lock.acquire>>>).value.release();
  });
});
