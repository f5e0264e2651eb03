/**
 * The verb table declares what every verb answers: a result schema beside its parameters, so
 * the engine's client is typed from the table and a node's answers can be checked against it
 * (packages/node/test/verb-results.test.ts parses a real node's answers with these schemas).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ALL_MEMBERS, type VerbDef, verbs } from "../src/index.js";

const table = Object.entries(verbs) as [string, VerbDef][];

test("every verb declares a result schema", () => {
  const untyped = table.filter(([, v]) => !v.typed).map(([k]) => k);
  assert.deepEqual(untyped, [], `verbs without a result schema: ${untyped.join(", ")}`);
  for (const [k, v] of table) assert.equal(typeof v.returns.safeParse, "function", `${k}: returns is not a schema`);
});

test("a verb without a result member answers true, and only true", () => {
  for (const [k, v] of table.filter(([, v]) => v.result === undefined)) {
    assert.ok(v.returns.safeParse(true).success, `${k} must accept true`);
    assert.ok(!v.returns.safeParse({}).success, `${k} must refuse an object`);
  }
});

test("a verb with a result member does not accept a bare true", () => {
  for (const [k, v] of table.filter(([, v]) => v.result !== undefined)) {
    assert.ok(!v.returns.safeParse(true).success, `${k} (result ${v.result}) accepts true`);
  }
});

test("the whole-response form is used only where VDSM's bridge did (Volume.getSize)", () => {
  const whole = table.filter(([, v]) => v.result === ALL_MEMBERS).map(([k]) => k);
  assert.deepEqual(whole, ["getVolumeSize"]);
});
