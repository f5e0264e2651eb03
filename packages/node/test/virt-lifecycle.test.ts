/**
 * VM lifecycle on a real node process with real QEMU (TCG) and a real qcow2 volume from the
 * storage verbs: create → Up (QMP says running), the guest's writes reach the qcow2, VNC answers
 * with an RFB banner on the reported port, shutdown → Down with the admin reason and no QEMU
 * process, destroy releases the VM; a running VM can be destroyed outright.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type LocalPool, type NodeProc, setupLocalPool } from "./harness.js";
import {
  consoleLog,
  createQcow2,
  errorCode,
  guestVm,
  processAlive,
  qemuImgActualSize,
  rfbBanner,
  vmStats,
  waitConsole,
  waitFor,
  waitStatus,
  startVirtNode,
  stopWithVms,
} from "./virt-support.js";

let node: NodeProc;
let pool: LocalPool;

before(async () => {
  node = await startVirtNode();
  pool = await setupLocalPool(node);
});
after(async () => {
  await stopWithVms(node);
});

describe("a VM with a qcow2 disk", () => {
  const vmId = randomUUID();
  let diskPath = "";
  let sizeBefore = 0;
  let pid = 0;

  test("create answers WaitForLaunch in VDSM's vmList shape", async () => {
    const { drive, path } = await createQcow2(node, pool, 256);
    diskPath = path;
    sizeBefore = qemuImgActualSize(path);
    const vmList = (await node.json("VM.create", { vmParams: guestVm(vmId, { args: "vela.write=32", drives: [drive] }) })) as Record<string, unknown>;
    assert.equal(vmList.vmId, vmId);
    assert.equal(vmList.status, "WaitForLaunch");
  });

  test("the VM goes Up as QMP reports it running, with a live QEMU pid", async () => {
    const st = await waitStatus(node, vmId, "Up", 30_000);
    assert.equal(st.qemuStatus, "running");
    pid = Number(st.pid);
    assert.ok(pid > 1 && processAlive(pid), `pid ${st.pid} is a live process`);
    assert.equal(st.displayType, "vnc");
    assert.equal(st.kvmEnable, "false");
  });

  test("the guest boots, writes 32 MiB with fsync, and the qcow2 allocation grows", async () => {
    const log = await waitConsole(node.runDir, vmId, "GUEST-WRITE-DONE mib=32", 90_000);
    assert.match(log, /GUEST-UP/);
    const sizeAfter = qemuImgActualSize(diskPath);
    assert.ok(sizeAfter - sizeBefore >= 32 * 2 ** 20, `qcow2 grew from ${sizeBefore} to ${sizeAfter}`);
    const disks = (await vmStats(node, vmId)).disks as Record<string, Record<string, string>>;
    assert.ok(Number(disks.vda.writtenBytes) >= 32 * 2 ** 20, `vda writtenBytes ${disks.vda.writtenBytes}`);
    assert.ok(Number(disks.vda.wrHighestOffset) >= 32 * 2 ** 20, `vda wrHighestOffset ${disks.vda.wrHighestOffset}`);
  });

  test("the reported VNC port accepts a connection and speaks RFB", async () => {
    const st = await vmStats(node, vmId);
    const port = Number(st.displayPort);
    assert.ok(port >= 5900, `displayPort ${st.displayPort}`);
    assert.match(await rfbBanner(port), /^RFB \d{3}\.\d{3}\n$/);
  });

  test("list shows the VM, with its definition when full", async () => {
    const brief = (await node.json("Host.getVMList", {})) as { vmId: string; status: string }[];
    assert.deepEqual(brief.find((v) => v.vmId === vmId), { vmId, status: "Up" });
    const full = (await node.json("Host.getVMList", { fullStatus: true, vmList: [vmId] })) as Record<string, unknown>[];
    assert.equal(full.length, 1);
    assert.equal(full[0].memSize, 192);
  });

  test("shutdown powers the guest off through ACPI: Down, admin reason, QEMU gone", async () => {
    await node.json("VM.shutdown", { vmID: vmId });
    const st = await waitStatus(node, vmId, "Down", 30_000);
    assert.equal(st.exitCode, 0);
    assert.equal(st.exitReason, 6, `exitReason ${String(st.exitReason)} (${String(st.exitMessage)})`);
    assert.match(consoleLog(node.runDir, vmId), /GUEST-POWERDOWN/);
    await waitFor("QEMU to exit", () => !processAlive(pid), 5000);
    const all = (await node.json("Host.getAllVmStats", {})) as { vmId: string; status: string }[];
    assert.equal(all.find((s) => s.vmId === vmId)?.status, "Down", "a Down VM stays listed until destroyed");
  });

  test("destroy releases a Down VM: unknown afterwards, run directory gone", async () => {
    await node.json("VM.destroy", { vmID: vmId });
    assert.equal((await errorCode(vmStats(node, vmId)))?.code, 1);
    assert.equal(existsSync(join(node.runDir, "vms", vmId)), false);
  });
});

describe("destroying a running VM", () => {
  test("ends its QEMU at once and forgets it", async () => {
    const vmId = randomUUID();
    await node.json("VM.create", { vmParams: guestVm(vmId, { display: "none" }) });
    const st = await waitStatus(node, vmId, "Up", 30_000);
    assert.equal(st.displayPort, "-1", "no display, no port");
    const pid = Number(st.pid);
    assert.ok(processAlive(pid));
    await node.json("VM.destroy", { vmID: vmId });
    assert.equal(processAlive(pid), false, "QEMU is gone when destroy returns");
    assert.equal((await errorCode(node.json("VM.destroy", { vmID: vmId })))?.code, 1, "a second destroy: noVM");
  });

  test("also works over XML-RPC with VDSM's flat names", async () => {
    const vmId = randomUUID();
    const r = await node.xml("create", guestVm(vmId, { display: "none" }));
    assert.equal(r.status.code, 0, r.status.message);
    assert.equal((r.vmList as Record<string, unknown>).status, "WaitForLaunch");
    const up = await waitFor("Up over XML-RPC", async () => {
      const s = await node.xml("getVmStats", vmId);
      const first = (s.statsList as Record<string, unknown>[])[0];
      return first.status === "Up" ? first : undefined;
    }, 30_000);
    const pid = Number(up.pid);
    assert.equal((await node.xml("destroy", vmId)).status.code, 0);
    assert.equal(processAlive(pid), false);
  });
});

describe("a guest powering itself off", () => {
  test("a guest that powers itself off is Down with the user-shutdown reason", async () => {
    const vmId = randomUUID();
    await node.json("VM.create", { vmParams: guestVm(vmId, { display: "none", args: "vela.poweroff" }) });
    const st = await waitStatus(node, vmId, "Down", 60_000);
    assert.equal(st.exitCode, 0);
    assert.equal(st.exitReason, 7, String(st.exitMessage));
    assert.match(consoleLog(node.runDir, vmId), /GUEST-POWEROFF/);
    await node.json("VM.destroy", { vmID: vmId });
  });
});
