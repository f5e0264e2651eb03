/**
 * Bad VM requests get a clear VDSM error and start nothing: no QEMU process, no run directory, no
 * tap left behind. Covers boot files outside the allowed directories (also through a symlink),
 * unknown VMs, a duplicate vmId, malformed MAC and bridge names, a missing bridge, an unknown
 * volume, and an accelerator this host cannot run.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type LocalPool, type NodeProc, setupLocalPool } from "./harness.js";
import { errorCode, guestVm, qemuPidsFor, startVirtNode, testGuest, waitStatus, stopWithVms } from "./virt-support.js";

let node: NodeProc;
let pool: LocalPool;

before(async () => {
  node = await startVirtNode();
  pool = await setupLocalPool(node);
});
after(async () => {
  await stopWithVms(node);
});

function vmDirs(): string[] {
  const d = join(node.runDir, "vms");
  return existsSync(d) ? readdirSync(d) : [];
}

function tapsOnHost(): string[] {
  return readdirSync("/sys/class/net").filter((n) => n.startsWith("vt"));
}

/** Asserts create fails with `code`, and that nothing of the VM exists afterwards. */
async function refused(vmParams: Record<string, unknown>, code: number, message: RegExp): Promise<void> {
  const tapsBefore = tapsOnHost();
  const err = await errorCode(node.json("VM.create", { vmParams }));
  assert.ok(err, "create must fail");
  assert.equal(err.code, code, err.message);
  assert.match(err.message, message);
  const vmId = String(vmParams.vmId);
  assert.equal(vmDirs().includes(vmId), false, "no run directory");
  assert.deepEqual(qemuPidsFor(vmId), [], "no QEMU process");
  assert.deepEqual(tapsOnHost(), tapsBefore, "no tap left behind");
  assert.equal((await errorCode(node.json("VM.getStats", { vmID: vmId })))?.code, 1, "the VM is unknown");
}

describe("boot files", () => {
  test("a kernel outside the allowed boot directories is refused", async () => {
    await refused({ ...guestVm(randomUUID()), kernel: "/etc/hostname" }, 9, /not inside an allowed boot directory/);
  });

  test("an initrd outside the allowed boot directories is refused", async () => {
    await refused({ ...guestVm(randomUUID()), initrd: "/etc/hostname" }, 9, /initrd .* not inside an allowed boot directory/);
  });

  test("a symlink inside an allowed directory pointing outside is refused", async () => {
    const outside = mkdtempSync(join(tmpdir(), "vela-outside-"));
    writeFileSync(join(outside, "k"), "not a kernel");
    const link = join(testGuest().dir, `evil-${randomUUID()}`);
    symlinkSync(join(outside, "k"), link);
    try {
      await refused({ ...guestVm(randomUUID()), kernel: link }, 9, /not inside an allowed boot directory/);
    } finally {
      await import("node:fs/promises").then((fs) => fs.rm(link));
    }
  });

  test("a relative or dot-dot path never reaches the node's checks", async () => {
    await refused({ ...guestVm(randomUUID()), kernel: `${testGuest().dir}/../../etc/hostname` }, 1000, /kernel/);
    await refused({ ...guestVm(randomUUID()), kernel: "vmlinuz" }, 1000, /kernel/);
  });

  test("a missing kernel file is refused", async () => {
    await refused({ ...guestVm(randomUUID()), kernel: join(testGuest().dir, "no-such-kernel") }, 9, /does not exist/);
  });

  test("kernel arguments without a kernel are refused", async () => {
    const { kernel: _k, initrd: _i, ...rest } = guestVm(randomUUID());
    await refused(rest, 9, /need a kernel/);
  });
});

describe("NICs", () => {
  test("a malformed MAC address is InvalidParameter", async () => {
    await refused(guestVm(randomUUID(), { nics: [{ macAddr: "00:1a:4a:zz:00:01", network: "user" }] }), 1000, /macAddr/);
  });

  test("a bridge name that could be an option or a path is InvalidParameter", async () => {
    for (const network of ["-br0", "br0/../x", "br0 up", "averyveryverylongname0"]) {
      await refused(guestVm(randomUUID(), { nics: [{ macAddr: "00:1a:4a:16:01:01", network }] }), 1000, /network/);
    }
  });

  test("a bridge that does not exist is createErr", async () => {
    await refused(guestVm(randomUUID(), { nics: [{ macAddr: "00:1a:4a:16:01:01", network: "nosuchbr0" }] }), 9, /bridge nosuchbr0 does not exist/);
  });

  test("the same MAC twice is createErr", async () => {
    const nic = { macAddr: "00:1a:4a:16:01:02", network: "user" };
    await refused(guestVm(randomUUID(), { nics: [nic, nic] }), 9, /used twice/);
  });
});

describe("drives and ids", () => {
  test("an unknown volume is refused with the storage error", async () => {
    const drive = { poolID: pool.spUUID, domainID: pool.sdUUID, imageID: randomUUID(), volumeID: randomUUID() };
    const err = await errorCode(node.json("VM.create", { vmParams: guestVm(randomUUID(), { drives: [drive] }) }));
    assert.ok(err && err.code >= 200 && err.code < 400, `storage error, got ${JSON.stringify(err)}`);
    assert.deepEqual(vmDirs(), []);
  });

  test("vmID differing from vmParams.vmId is refused", async () => {
    const err = await errorCode(node.json("VM.create", { vmParams: guestVm(randomUUID()), vmID: randomUUID() }));
    assert.equal(err?.code, 9);
    assert.deepEqual(vmDirs(), []);
  });

  test("verbs on an unknown VM answer noVM (1)", async () => {
    const vmID = randomUUID();
    for (const method of ["VM.getStats", "VM.destroy", "VM.shutdown"]) {
      const err = await errorCode(node.json(method, { vmID }));
      assert.equal(err?.code, 1, method);
      assert.match(err!.message, /does not exist/);
    }
  });

  test("a duplicate vmId is refused with exist (4) and the first VM keeps running", async () => {
    const vmId = randomUUID();
    await node.json("VM.create", { vmParams: guestVm(vmId, { display: "none" }) });
    const err = await errorCode(node.json("VM.create", { vmParams: guestVm(vmId, { display: "none" }) }));
    assert.equal(err?.code, 4);
    const st = await waitStatus(node, vmId, "Up", 30_000);
    assert.deepEqual(qemuPidsFor(vmId), [Number(st.pid)], "exactly one QEMU for the id");
    await node.json("VM.destroy", { vmID: vmId });
    assert.deepEqual(qemuPidsFor(vmId), []);
  });

  test("two concurrent creates of one id: one wins, the other gets exist", async () => {
    const vmId = randomUUID();
    const results = await Promise.all([1, 2].map(() => errorCode(node.json("VM.create", { vmParams: guestVm(vmId, { display: "none" }) }))));
    assert.deepEqual(results.map((r) => r?.code).sort(), [4, undefined].sort());
    await waitStatus(node, vmId, "Up", 30_000);
    await node.json("VM.destroy", { vmID: vmId });
  });
});

describe("accelerator", () => {
  test("asking for KVM where KVM cannot run guests is createErr", async (t) => {
    if (existsSync("/dev/kvm")) {
      t.skip("this host has /dev/kvm; the probe decides, not this test");
      return;
    }
    await refused({ ...guestVm(randomUUID()), accel: "kvm" }, 9, /kvm does not run guests/);
  });
});
