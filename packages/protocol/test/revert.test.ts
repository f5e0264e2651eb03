/** The shared revert stack: undos run newest first, once; a failing undo is reported, the rest run. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Revert } from "../src/revert.js";

test("a failure runs the undos newest first, once; a failing undo does not stop the others", async () => {
  const ran: string[] = [];
  const failed: string[] = [];
  const r = new Revert((what, err) => failed.push(`${what}: ${(err as Error).message}`));
  r.push("create volume", () => ran.push("create volume"));
  r.push("add tap", async () => {
    throw new Error("tap busy");
  });
  r.push("make run dir", async () => ran.push("make run dir"));
  assert.deepEqual(r.pending, ["make run dir", "add tap", "create volume"]);
  await r.run();
  assert.deepEqual(ran, ["make run dir", "create volume"]);
  assert.deepEqual(failed, ["add tap: tap busy"]);
  await r.run();
  assert.deepEqual(ran, ["make run dir", "create volume"], "undos run once");
});

test("success drops the undos", async () => {
  let ran = false;
  const r = new Revert(() => assert.fail("no undo should run"));
  r.push("x", () => {
    ran = true;
  });
  r.success();
  await r.run();
  assert.equal(ran, false);
  assert.deepEqual(r.pending, []);
});
