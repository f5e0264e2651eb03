/**
 * Console proxy tickets on their own, with a clock the test moves: a ticket opens its VM's
 * console once and only until its expiry; a changed payload or signature, another VM, another
 * console kind, an unknown user, another engine's secret and garbage are each refused with their
 * own code; the secret is made once (0600) and read back, so tickets outlive an engine restart.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConsoleTickets, loadSecret, TicketError, type TicketRefusal } from "../src/console/tickets.js";
import { tempDir } from "./support.js";

const ADMIN = "admin@internal";
const known = (u: string) => u === ADMIN;

function refusal(fn: () => unknown): TicketRefusal {
  try {
    fn();
  } catch (e) {
    if (e instanceof TicketError) return e.code;
    throw e;
  }
  assert.fail("the ticket was accepted");
}

test("a ticket opens its VM's console once, until it expires", () => {
  let now = 1_000_000;
  const t = new ConsoleTickets(loadSecret(tempDir("vela-tickets-")), () => now);
  const vm = randomUUID();
  const a = t.issue({ vm, kind: "vnc", user: ADMIN }, 60);
  assert.equal(a.claims.exp, now + 60_000);
  assert.equal(t.redeem(a.ticket, vm, "vnc", known).user, ADMIN);
  assert.equal(refusal(() => t.redeem(a.ticket, vm, "vnc", known)), "replayed");

  const b = t.issue({ vm, kind: "vnc", user: ADMIN }, 60);
  now += 60_000;
  assert.equal(refusal(() => t.redeem(b.ticket, vm, "vnc", known)), "expired", "at its expiry it no longer works");
});

test("tickets bound to another VM, console, user or secret, or tampered, are refused", () => {
  const home = tempDir("vela-tickets-");
  const t = new ConsoleTickets(loadSecret(home));
  const vm = randomUUID();
  const { ticket } = t.issue({ vm, kind: "vnc", user: ADMIN }, 60);
  assert.equal(refusal(() => t.redeem(ticket, randomUUID(), "vnc", known)), "wrong-vm");
  assert.equal(refusal(() => t.redeem(ticket, vm, "serial", known)), "wrong-console");
  const [payload, sig] = ticket.split(".") as [string, string];
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
  const other = Buffer.from(JSON.stringify({ ...claims, vm: randomUUID() })).toString("base64url");
  assert.equal(refusal(() => t.redeem(`${other}.${sig}`, vm, "vnc", known)), "bad-signature");
  const flipped = `${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`;
  assert.equal(refusal(() => t.redeem(`${payload}.${flipped}`, vm, "vnc", known)), "bad-signature");
  for (const junk of ["", "abc", `${payload}.`, `${payload}.${sig}.x`, `../${payload}.${sig}`]) {
    assert.equal(refusal(() => t.redeem(junk, vm, "vnc", known)), "malformed", JSON.stringify(junk));
  }
  const stranger = t.issue({ vm, kind: "vnc", user: "mallory@internal" }, 60).ticket;
  assert.equal(refusal(() => t.redeem(stranger, vm, "vnc", known)), "unknown-user");
  const elsewhere = new ConsoleTickets(loadSecret(tempDir("vela-tickets-"))).issue({ vm, kind: "vnc", user: ADMIN }, 60).ticket;
  assert.equal(refusal(() => t.redeem(elsewhere, vm, "vnc", known)), "bad-signature", "another engine's ticket");
  // None of the refusals used the ticket up.
  assert.equal(t.redeem(ticket, vm, "vnc", known).vm, vm);
});

test("the secret is made once, private, and read back", () => {
  const home = tempDir("vela-tickets-");
  const s1 = loadSecret(home);
  assert.equal(statSync(join(home, "console-secret")).mode & 0o777, 0o600);
  assert.deepEqual(loadSecret(home), s1);
  const vm = randomUUID();
  const { ticket } = new ConsoleTickets(s1).issue({ vm, kind: "serial", user: ADMIN }, 60);
  assert.equal(new ConsoleTickets(loadSecret(home)).redeem(ticket, vm, "serial", known).kind, "serial", "valid after a restart");
});
