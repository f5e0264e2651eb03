/**
 * Accelerator choice: the KVM probe is fast and cached and says no where KVM cannot boot a guest
 * (this machine), TCG is the fallback, an operator's VELA_NODE_ACCEL wins over the probe, and a
 * VM asking for an accelerator the host cannot run is refused rather than silently moved.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { after, describe, test } from "node:test";
import { VdsmError } from "@vela/protocol";
import { pino } from "pino";
import { accelerators, hostAccel, probeAccel, vmAccel } from "../src/virt/accel/index.js";
import type { NodeProc } from "./harness.js";
import { guestVm, startVirtNode, waitStatus, stopWithVms } from "./virt-support.js";

const log = pino({ level: "silent" });
const kvmUsable = existsSync("/dev/kvm");

describe("accelerator registry", () => {
  test("the KVM probe answers quickly and is computed once per process", async (t) => {
    if (kvmUsable) t.diagnostic("/dev/kvm exists here: the probe boots firmware (up to 4 s)");
    const t0 = Date.now();
    const first = await probeAccel("kvm", log);
    const ms = Date.now() - t0;
    assert.ok(ms < (kvmUsable ? 5000 : 500), `probe took ${ms} ms`);
    const t1 = Date.now();
    assert.equal(await probeAccel("kvm", log), first);
    assert.ok(Date.now() - t1 < 20, "second probe is the cached answer");
    if (!kvmUsable) assert.equal(first, false);
  });

  test("TCG always works and is the fallback", async () => {
    assert.equal(await probeAccel("tcg", log), true);
    if (!(await probeAccel("kvm", log))) assert.equal((await hostAccel(undefined, log)).name, "tcg");
    assert.deepEqual(accelerators.tcg.argv(), ["-accel", "tcg"]);
  });

  test("a forced accelerator is used without probing", async () => {
    assert.equal((await hostAccel("kvm", log)).name, "kvm");
    assert.equal((await vmAccel("kvm", "kvm", log)).name, "kvm");
  });

  test("a VM asking for an accelerator the probe rejects is refused", async () => {
    if (await probeAccel("kvm", log)) return;
    await assert.rejects(vmAccel("kvm", undefined, log), (e: unknown) => e instanceof VdsmError && e.errName === "createErr");
    assert.equal((await vmAccel("tcg", undefined, log)).name, "tcg");
  });
});

describe("a node without VELA_NODE_ACCEL", () => {
  let node: NodeProc | undefined;
  after(async () => {
    await stopWithVms(node);
  });

  test("probes and runs the VM with what works here", async () => {
    node = await startVirtNode({ env: { VELA_NODE_ACCEL: "" } });
    const vmId = randomUUID();
    await node.json("VM.create", { vmParams: guestVm(vmId, { display: "none" }) });
    const st = await waitStatus(node, vmId, "Up", 30_000);
    assert.equal(st.accel, (await probeAccel("kvm", log)) ? "kvm" : "tcg");
    await node.json("VM.destroy", { vmID: vmId });
  });
});
