/**
 * No endpoint without a permission check: every route of the API's table declares what it needs
 * (permissions/needs.ts), and every role's permits are known action groups.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { apiRoutes } from "../src/api/routes.js";
import { needOf } from "../src/permissions/needs.js";
import { ACTION_GROUPS, ROLES } from "../src/permissions/roles.js";

test("every API route declares the permission it needs", () => {
  const missing = apiRoutes.filter((r) => !needOf(r.method, r.path)).map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(missing, [], "routes without an entry in permissions/needs.ts");
});

test("roles: unique names and ids, permits are action groups, SuperUser has them all", () => {
  assert.equal(new Set(ROLES.map((r) => r.name)).size, ROLES.length);
  assert.equal(new Set(ROLES.map((r) => r.id)).size, ROLES.length);
  for (const r of ROLES) for (const p of r.permits) assert.ok((ACTION_GROUPS as readonly string[]).includes(p), `${r.name}: ${p}`);
  assert.deepEqual([...(ROLES.find((r) => r.name === "SuperUser")?.permits ?? [])].sort(), [...ACTION_GROUPS].sort());
});
