/**
 * The test kit's address reservations: test files running at the same time (and other
 * checkouts' runs) share the root network namespace, and two labs that picked the same 192.0.2.X
 * failed in CI with "File exists" from `ip route add`. Several processes reserving at once must
 * never get the same address, and a reservation ends with its process.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const PROCESSES = 8;
const EACH = 12;

/** A child process that reserves `EACH` addresses, prints them, and exits when its stdin closes. */
function reserver(): Promise<{ addresses: string[]; exited: Promise<void>; release: () => void }> {
  const code = `
    import { reserveAddress } from "@vela/testkit/netlab";
    const got = [];
    for (let i = 0; i < ${EACH}; i++) got.push(reserveAddress("192.0.2"));
    process.stdout.write(JSON.stringify(got) + "\\n");
    process.stdin.resume();
    process.stdin.on("end", () => process.exit(0));
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: import.meta.dirname, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  return new Promise((res, rej) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) res({ addresses: JSON.parse(out) as string[], exited, release: () => child.stdin.end() });
    });
    child.once("exit", (c) => rej(new Error(`reserver exited ${c} before answering: ${err}`)));
  });
}

test("processes reserving addresses at once never share one; reservations end with their process", async () => {
  const all = await Promise.all(Array.from({ length: PROCESSES }, () => reserver()));
  const addresses = all.flatMap((r) => r.addresses);
  const dup = addresses.filter((a, i) => addresses.indexOf(a) !== i);
  assert.deepEqual(dup, [], `addresses handed to two processes: ${dup.join(", ")}`);
  assert.equal(addresses.length, PROCESSES * EACH);
  for (const a of addresses) assert.match(a, /^192\.0\.2\.(\d+)$/);
  for (const r of all) r.release();
  await Promise.all(all.map((r) => r.exited));
  const left = addresses.filter((a) => existsSync(join("/tmp/vela-test-addresses", a)));
  assert.deepEqual(left, [], "reservations left behind by exited processes");
});
