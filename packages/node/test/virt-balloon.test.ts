/**
 * Memory over-commit on a real node with a real QEMU guest that loads virtio_balloon: the policy's
 * decisions with real numbers (pressure inflates a step at a time down to the floor the
 * over-commit percentage and the guarantee allow, relief deflates, 100 % never inflates);
 * VM.setBalloonTarget moves the guest's balloon (QMP `balloon`; `query-balloon` through
 * balloonInfo follows) and the guest's memory statistics appear; the node's policy, once the engine
 * enables it, gives memory back to a ballooned VM on a host without pressure; KSM is switched
 * through the kernel's real `run` file (restored after) and reported absent where there is none.
 * Bad balloon calls are refused.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setKsm } from "../src/virt/mom/ksm.js";
import { decide, floorKiB } from "../src/virt/mom/policy.js";
import type { NodeProc } from "./harness.js";
import { errorCode, guestVm, startVirtNode, stopWithVms, vmStats, waitConsole, waitFor, waitStatus } from "./virt-support.js";

const MiB = 1024;
const KSM_RUN = "/sys/kernel/mm/ksm/run";

describe("the memory policy's decisions", () => {
  const vm = { vmId: "a", memKiB: 4096 * MiB, minKiB: 1024 * MiB, actualKiB: 4096 * MiB };
  const pressure = { totalKiB: 16 * 1024 * MiB, availableKiB: 1 * 1024 * MiB }; // 6 % free
  const relief = { totalKiB: 16 * 1024 * MiB, availableKiB: 8 * 1024 * MiB }; // 50 % free
  const between = { totalKiB: 16 * 1024 * MiB, availableKiB: 4 * 1024 * MiB }; // 25 % free

  test("under pressure a balloon inflates one step (5 % of the VM's memory)", () => {
    assert.deepEqual(decide(pressure, [vm], { balloonEnabled: true, overCommitPercent: 150 }), [{ vmId: "a", targetKiB: 4_194_304 - 209_715 }]);
  });

  test("never below memory × 100 / over-commit %, nor below the guarantee", () => {
    assert.equal(floorKiB(vm, 200), 2048 * MiB);
    assert.equal(floorKiB(vm, 150), Math.ceil((4096 * MiB * 100) / 150));
    assert.equal(floorKiB({ memKiB: 4096 * MiB, minKiB: 3072 * MiB }, 200), 3072 * MiB, "the guarantee wins");
    const atFloor = { ...vm, actualKiB: 2048 * MiB + 100 };
    assert.deepEqual(decide(pressure, [atFloor], { balloonEnabled: true, overCommitPercent: 200 }), [], "within a page of the floor: no change");
    const near = { ...vm, actualKiB: 2100 * MiB };
    assert.deepEqual(decide(pressure, [near], { balloonEnabled: true, overCommitPercent: 200 }), [{ vmId: "a", targetKiB: 2048 * MiB }]);
  });

  test("at 100 % (no over-commit) a balloon never inflates", () => {
    assert.deepEqual(decide(pressure, [vm], { balloonEnabled: true, overCommitPercent: 100 }), []);
  });

  test("relief deflates a step at a time up to the VM's memory; between the marks nothing moves", () => {
    const small = { ...vm, actualKiB: 3000 * MiB };
    assert.deepEqual(decide(relief, [small], { balloonEnabled: true, overCommitPercent: 150 }), [{ vmId: "a", targetKiB: 3_072_000 + 209_715 }]);
    assert.deepEqual(decide(relief, [{ ...vm, actualKiB: 4000 * MiB }], { balloonEnabled: true, overCommitPercent: 150 }), [{ vmId: "a", targetKiB: 4096 * MiB }]);
    assert.deepEqual(decide(between, [small], { balloonEnabled: true, overCommitPercent: 150 }), []);
  });

  test("ballooning off: the policy leaves balloons alone", () => {
    assert.deepEqual(decide(pressure, [{ ...vm, actualKiB: 2048 * MiB }], { balloonEnabled: false, overCommitPercent: 200 }), []);
    assert.deepEqual(decide(relief, [{ ...vm, actualKiB: 2048 * MiB }], { balloonEnabled: false, overCommitPercent: 200 }), []);
  });
});

describe("balloons and KSM on a real node", () => {
  let node: NodeProc;
  const vmId = randomUUID();
  const plainId = randomUUID();
  let ksmBefore = "";

  before(async () => {
    ksmBefore = readFileSync(KSM_RUN, "utf8").trim();
    node = await startVirtNode({ env: { VELA_NODE_MOM_INTERVAL_MS: "500" } });
  });
  after(async () => {
    await stopWithVms(node);
    writeFileSync(KSM_RUN, `${ksmBefore}\n`); // leave the host's KSM as it was
  });

  const balloon = async (id: string) => (await vmStats(node, id)).balloonInfo as Record<string, string> | undefined;

  test("setBalloonTarget moves the guest's balloon, as query-balloon reports it; the guest's statistics appear", async () => {
    await node.json("VM.create", { vmParams: { ...guestVm(vmId, { display: "none", memSize: 256 }), balloon: true } });
    await waitStatus(node, vmId, "Up");
    await waitConsole(node.runDir, vmId, "GUEST-UP");
    const info = await waitFor("balloonInfo", () => balloon(vmId));
    assert.equal(info.balloon_max, String(256 * MiB));
    assert.equal(info.balloon_cur, String(256 * MiB));
    await node.json("VM.setBalloonTarget", { vmID: vmId, target: 160 * MiB });
    const after = await waitFor("balloon at 160 MiB", async () => {
      const b = await balloon(vmId);
      return b && Number(b.balloon_cur) === 160 * MiB ? b : undefined;
    }, 60_000, 200);
    assert.equal(after.balloon_target, String(160 * MiB));
    const mem = await waitFor("guest memory statistics", async () => (await vmStats(node, vmId)).memoryStats as Record<string, string> | undefined, 30_000, 500);
    assert.ok(Number(mem.mem_total) > 100 * MiB && Number(mem.mem_total) <= 256 * MiB, `mem_total ${mem.mem_total} KiB`);
    assert.ok(Number(mem.mem_unused) > 0, `mem_unused ${mem.mem_unused}`);
  });

  test("bad balloon calls are refused and the balloon stays", async () => {
    await node.json("VM.create", { vmParams: guestVm(plainId, { display: "none", memSize: 128 }) });
    await waitStatus(node, plainId, "Up");
    assert.equal((await errorCode(node.json("VM.setBalloonTarget", { vmID: plainId, target: 64 * MiB })))?.code, 44, "a VM without a balloon");
    assert.equal((await errorCode(node.json("VM.setBalloonTarget", { vmID: vmId, target: 512 * MiB })))?.code, 1000, "above the VM's memory");
    assert.equal((await errorCode(node.json("VM.setBalloonTarget", { vmID: vmId, target: 1024 })))?.code, 1000, "below 16 MiB");
    assert.equal((await errorCode(node.json("VM.setBalloonTarget", { vmID: vmId, target: "lots" })))?.code, 1000, "not a number");
    assert.equal((await errorCode(node.json("VM.setBalloonTarget", { vmID: randomUUID(), target: 64 * MiB })))?.code, 1, "an unknown VM");
    assert.equal((await errorCode(node.json("Host.setMOMPolicyParameters", { key_value_store: { balloonEnabled: true, overCommitPercent: 50, ksmEnabled: false } })))?.code, 1000, "over-commit below 100 %");
    assert.equal((await balloon(vmId))?.balloon_cur, String(160 * MiB));
    assert.equal((await vmStats(node, plainId)).balloonInfo, undefined, "no balloon, no balloonInfo");
  });

  test("with ballooning enabled and no host pressure, the policy gives the VM its memory back", async () => {
    const free = /MemAvailable:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
    const total = /MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
    assert.ok(Number(free) / Number(total) > 0.3, `this test needs a host without memory pressure (${free}/${total} KiB free)`);
    await node.json("Host.setMOMPolicyParameters", { key_value_store: { balloonEnabled: true, overCommitPercent: 150, ksmEnabled: false } });
    await waitFor("balloon back at 256 MiB", async () => {
      const b = await balloon(vmId);
      return b && Number(b.balloon_cur) === 256 * MiB ? b : undefined;
    }, 60_000, 250);
    assert.match(node.output(), /balloon target/, "the policy logged its decisions");
  });

  test("KSM follows the cluster's switch through the kernel's run file", async () => {
    const on = (await node.json("Host.setMOMPolicyParameters", { key_value_store: { balloonEnabled: false, overCommitPercent: 100, ksmEnabled: true } })) as { present: boolean; running: boolean };
    assert.deepEqual([on.present, on.running], [true, true]);
    assert.equal(readFileSync(KSM_RUN, "utf8").trim(), "1");
    const off = (await node.json("Host.setMOMPolicyParameters", { key_value_store: { balloonEnabled: false, overCommitPercent: 100, ksmEnabled: false } })) as { running: boolean };
    assert.equal(off.running, false);
    assert.equal(readFileSync(KSM_RUN, "utf8").trim(), "0");
  });

  test("a kernel without KSM is reported as such, nothing written", async () => {
    const dir = join(node.runDir, "no-ksm-here");
    assert.deepEqual(await setKsm(true, dir), { present: false, running: false });
  });
});
