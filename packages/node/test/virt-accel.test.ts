/**
 * Accelerator choice: the KVM probe is cached and says no where KVM cannot boot a guest kernel,
 * TCG is the fallback, an operator's VELA_NODE_ACCEL wins over the probe, and a VM asking for an
 * accelerator the host cannot run is refused rather than silently moved. The node's own choice
 * must boot the test guest to its userspace: a CI machine whose /dev/kvm ran firmware but hung
 * kernels once passed a firmware-only probe and left `vela up`'s guest hanging.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { VdsmError } from "@vela/protocol";
import { pino } from "pino";
import { accelerators, hostAccel, probeAccel, vmAccel } from "../src/virt/accel/index.js";
import { bootsFirmware, bootsKernel, probeKernel } from "../src/virt/accel/kvm.js";
import type { NodeProc } from "./harness.js";
import { guestVm, startVirtNode, stopWithVms, testGuest, waitConsole, waitStatus } from "./virt-support.js";

const log = pino({ level: "silent" });
const ctx = { log, bootDirs: [testGuest().dir] };
const kvmUsable = existsSync("/dev/kvm");

describe("accelerator registry", () => {
  test("the KVM probe answers quickly and is computed once per process", async (t) => {
    if (kvmUsable) t.diagnostic("/dev/kvm exists here: the probe boots firmware and a kernel (up to 24 s)");
    const t0 = Date.now();
    const first = await probeAccel("kvm", ctx);
    const ms = Date.now() - t0;
    t.diagnostic(`kvm probe: ${first} in ${ms} ms`);
    assert.ok(ms < (kvmUsable ? 30_000 : 500), `probe took ${ms} ms`);
    const t1 = Date.now();
    assert.equal(await probeAccel("kvm", ctx), first);
    assert.ok(Date.now() - t1 < 20, "second probe is the cached answer");
    if (!kvmUsable) assert.equal(first, false);
  });

  test("TCG always works and is the fallback", async () => {
    assert.equal(await probeAccel("tcg", ctx), true);
    if (!(await probeAccel("kvm", ctx))) assert.equal((await hostAccel(undefined, ctx)).name, "tcg");
    assert.deepEqual(accelerators.tcg.argv(), ["-accel", "tcg"]);
  });

  test("the probe's kernel comes from the boot directories first, then /boot; only vmlinuz* files", () => {
    const root = mkdtempSync(join(tmpdir(), "vela-probe-kernel-"));
    const [a, b, c] = ["a", "b", "c"].map((d) => join(root, d));
    for (const d of [a!, b!, c!]) mkdirSync(d);
    writeFileSync(join(a!, "initrd.img"), "");
    symlinkSync(join(root, "missing"), join(a!, "vmlinuz-dangling"));
    writeFileSync(join(b!, "vmlinuz-6.1"), "k");
    writeFileSync(join(c!, "vmlinuz"), "k");
    assert.equal(probeKernel([a!, join(root, "absent"), b!, c!]), join(b!, "vmlinuz-6.1"));
    assert.equal(probeKernel([c!, b!]), join(c!, "vmlinuz"));
    const fromBoot = probeKernel([a!]);
    if (fromBoot !== undefined) assert.match(fromBoot, /^\/boot\/vmlinuz/);
  });

  test("the probe's steps tell a kernel that reaches its root mount from one that does not", async () => {
    // Run under TCG, which works everywhere, so the steps themselves are checked on every machine.
    const tcgArgv = accelerators.tcg.argv();
    assert.equal(await bootsFirmware(tcgArgv, log), true);
    assert.equal(await bootsKernel(tcgArgv, testGuest().kernel, log), true);
    const notKernel = join(mkdtempSync(join(tmpdir(), "vela-probe-kernel-")), "vmlinuz");
    writeFileSync(notKernel, Buffer.alloc(64 * 1024, 0x90));
    assert.equal(await bootsKernel(tcgArgv, notKernel, log), false);
  });

  test("a forced accelerator is used without probing", async () => {
    assert.equal((await hostAccel("kvm", ctx)).name, "kvm");
    assert.equal((await vmAccel("kvm", "kvm", ctx)).name, "kvm");
  });

  test("a VM asking for an accelerator the probe rejects is refused", async () => {
    if (await probeAccel("kvm", ctx)) return;
    await assert.rejects(vmAccel("kvm", undefined, ctx), (e: unknown) => e instanceof VdsmError && e.errName === "createErr");
    assert.equal((await vmAccel("tcg", undefined, ctx)).name, "tcg");
  });
});

describe("a node without VELA_NODE_ACCEL", () => {
  let node: NodeProc | undefined;
  after(async () => {
    await stopWithVms(node);
  });

  test("probes, and the guest boots to its userspace with what was chosen", async () => {
    node = await startVirtNode({ env: { VELA_NODE_ACCEL: "" } });
    const vmId = randomUUID();
    await node.json("VM.create", { vmParams: guestVm(vmId, { display: "none" }) });
    const st = await waitStatus(node, vmId, "Up", 60_000);
    assert.equal(st.accel, (await probeAccel("kvm", ctx)) ? "kvm" : "tcg");
    await waitConsole(node.runDir, vmId, "GUEST-UP", 90_000);
    await node.json("VM.destroy", { vmID: vmId });
  });
});
