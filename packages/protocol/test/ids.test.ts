/**
 * The ids and error modules engine and node share: one blank UUID, one UUID rule, named codes;
 * and both free of imports, since the engine loads them on its start-up path (zod is not).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Code, ErrorCodes, VdsmError } from "../src/errors.js";
import { asUuid, BLANK_UUID, isUuid, UUID_RE } from "../src/ids.js";
import { Uuid } from "../src/schemas.js";

test("the blank UUID is a UUID, and the Uuid schema applies the same rule as UUID_RE", () => {
  assert.ok(UUID_RE.test(BLANK_UUID));
  for (const s of [BLANK_UUID, "6A1F0C4E-2B7D-4E11-9C3A-0F5B8D2E7A90", "6a1f0c4e-2b7d-4e11-9c3a-0f5b8d2e7a9", "../etc", "", "6a1f0c4e2b7d4e119c3a0f5b8d2e7a90"]) {
    assert.equal(Uuid.safeParse(s).success, isUuid(s), s);
    assert.equal(asUuid(s), isUuid(s) ? s.toLowerCase() : undefined, s);
  }
  assert.equal(asUuid(42), undefined);
});

test("Code names each error's number", () => {
  assert.equal(Code.noVM, 1);
  assert.equal(Code.VolumeDoesNotExist, 201);
  assert.equal(Code.UnknownTask, 401);
  for (const [name, e] of Object.entries(ErrorCodes)) assert.equal(Code[name as keyof typeof Code], e.code, name);
  assert.equal(new VdsmError("ResourceTimeout").code, Code.ResourceTimeout);
});

test("ids, errors and revert import nothing (the engine's start-up path must not load zod)", () => {
  for (const m of ["../src/ids.js", "../src/errors.js", "../src/revert.js"]) {
    const js = readFileSync(fileURLToPath(new URL(m, import.meta.url)), "utf8");
    assert.doesNotMatch(js, /^\s*import\s/m, `${m} imports a module`);
  }
});
