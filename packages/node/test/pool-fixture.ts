/**
 * One node agent with a local pool (it is SPM) shared by all tests of a file: started before the
 * first test; after the last, the domain must pass the on-disk checker and the node is stopped.
 * Kept apart from harness.ts, which benchmarks import outside node:test.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { type LocalPool, type NodeProc, setupLocalPool, startNode } from "./harness.js";

export function usePoolNode(ready: (node: NodeProc, pool: LocalPool) => void, env: Record<string, string> = {}): void {
  let node: NodeProc | undefined;
  let pool: LocalPool | undefined;
  before(async () => {
    node = await startNode({ env: { VELA_LOG_LEVEL: "warn", ...env } });
    pool = await setupLocalPool(node);
    ready(node, pool);
  });
  after(async () => {
    // Whatever the tests did, the domain they leave behind must pass the on-disk checker.
    if (pool) assert.deepEqual((await checkFileDomain(pool.domainDir)).problems, [], "final on-disk check");
    await node?.stop();
  });
}
