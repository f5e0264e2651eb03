/**
 * The node is stateless: VMs keep running when the agent dies, and a restarted agent recovers
 * them from its run directory — same QEMU pid, same VNC port, status read again from QMP, still
 * controllable. A VM whose QEMU died while the agent was away is reported Down (lost), one whose
 * guest powered off meanwhile is Down as a user shutdown, and a
 * directory left by a create that never answered is cleaned up.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { QmpClient } from "../src/qemu/qmp.js";
import type { NodeProc } from "./harness.js";
import {
  errorCode,
  guestVm,
  processAlive,
  rfbBanner,
  startVirtNode,
  vmStats,
  waitConsole,
  waitFor,
  waitStatus,
  stopWithVms,
} from "./virt-support.js";

let node: NodeProc | undefined;
after(async () => {
  await stopWithVms(node);
});

describe("agent death and restart", () => {
  const running = randomUUID();
  const doomed = randomUUID();
  const poweredOff = randomUUID();
  let runDir = "";
  let port = 0;
  let pid = 0;
  let doomedPid = 0;
  let poweredOffPid = 0;
  let vncPort = "";

  test("VMs keep running when the agent is killed with SIGKILL", async () => {
    node = await startVirtNode();
    runDir = node.runDir;
    port = node.port;
    await node.json("VM.create", { vmParams: guestVm(running) });
    await node.json("VM.create", { vmParams: guestVm(doomed, { display: "none" }) });
    const st = await waitStatus(node, running, "Up", 30_000);
    pid = Number(st.pid);
    vncPort = st.displayPort;
    doomedPid = Number((await waitStatus(node, doomed, "Up", 30_000)).pid);
    await node.json("VM.create", { vmParams: guestVm(poweredOff, { display: "none" }) });
    poweredOffPid = Number((await waitStatus(node, poweredOff, "Up", 30_000)).pid);
    await waitConsole(runDir, running, "GUEST-IDLE", 60_000);
    await waitConsole(runDir, poweredOff, "GUEST-IDLE", 60_000);
    await node.kill("SIGKILL");
    node = undefined;
    assert.ok(processAlive(pid), "QEMU survives its agent");
    assert.ok(processAlive(doomedPid));
  });

  test("a guest powered off while no agent watches leaves its QEMU stopped, not gone", async () => {
    // The monitor is free while the agent is dead: press the power button as anyone could.
    const qmp = await QmpClient.connect(join(runDir, "vms", poweredOff, "qmp.sock"));
    try {
      await qmp.systemPowerdown();
      await waitConsole(runDir, poweredOff, "GUEST-POWERDOWN", 30_000);
      let last = "";
      const stopped = async () => {
        last = (await qmp.queryStatus()).status;
        return last === "shutdown";
      };
      await waitFor("QEMU to stop in the shutdown state", stopped, 30_000).catch((e: unknown) => {
        throw new Error(`${String(e)}; QEMU's last run state: ${last}`);
      });
    } finally {
      qmp.close();
    }
    assert.ok(processAlive(poweredOffPid), "QEMU (-no-shutdown) waits for the agent to read why it stopped");
  });

  test("a restarted agent recovers the running VM: same pid, VNC port, status from QMP", async () => {
    process.kill(doomedPid, "SIGKILL"); // dies while no agent watches
    await waitFor("doomed QEMU gone", () => !processAlive(doomedPid), 5000);
    node = await startVirtNode({ runDir, port });
    const st = await vmStats(node, running);
    assert.equal(st.status, "Up");
    assert.equal(st.qemuStatus, "running");
    assert.equal(Number(st.pid), pid);
    assert.equal(st.displayPort, vncPort);
    assert.match(await rfbBanner(Number(vncPort)), /^RFB /);
  });

  test("a VM that died while the agent was away is Down with a lost-QEMU reason", async () => {
    const st = await vmStats(node!, doomed);
    assert.equal(st.status, "Down");
    assert.equal(st.exitCode, 1);
    assert.equal(st.exitReason, 2);
    await node!.json("VM.destroy", { vmID: doomed });
    assert.equal((await errorCode(vmStats(node!, doomed)))?.code, 1);
  });

  test("the VM powered off meanwhile is Down as a user shutdown, and the restarted agent ends its QEMU", async () => {
    const st = await waitStatus(node!, poweredOff, "Down", 30_000);
    assert.equal(st.exitCode, 0, `exit ${String(st.exitCode)}/${String(st.exitReason)}: ${String(st.exitMessage)}`);
    assert.equal(st.exitReason, 7);
    await waitFor("the stopped QEMU to be ended", () => !processAlive(poweredOffPid), 10_000);
    await node!.json("VM.destroy", { vmID: poweredOff });
  });

  test("the recovered VM is still controllable: shutdown reaches the guest", async () => {
    await node!.json("VM.shutdown", { vmID: running });
    const st = await waitStatus(node!, running, "Down", 30_000);
    assert.equal(st.exitReason, 6);
    await waitFor("QEMU gone", () => !processAlive(pid), 5000);
    await node!.json("VM.destroy", { vmID: running });
  });

  test("an agent stopped cleanly (SIGTERM) also leaves VMs running", async () => {
    const vmId = randomUUID();
    await node!.json("VM.create", { vmParams: guestVm(vmId, { display: "none" }) });
    const qpid = Number((await waitStatus(node!, vmId, "Up", 30_000)).pid);
    await node!.stop();
    assert.ok(processAlive(qpid));
    node = await startVirtNode({ runDir, port });
    assert.equal((await vmStats(node, vmId)).status, "Up");
    await node.json("VM.destroy", { vmID: vmId });
    assert.equal(processAlive(qpid), false);
  });

  test("a VM directory without a record (create never answered) is removed at start", async () => {
    const stray = join(runDir, "vms", randomUUID());
    mkdirSync(stray, { recursive: true });
    await node!.stop();
    node = await startVirtNode({ runDir, port });
    assert.equal(existsSync(stray), false);
    assert.deepEqual(await node.json("Host.getVMList", {}), []);
  });

  test("an agent dying between starting QEMU and letting the guest run: the restarted agent finishes the start", async () => {
    await node!.stop();
    node = await startVirtNode({ runDir, port, env: { VELA_TEST_FAULTS: "virt.start.before-cont" } });
    const vmId = randomUUID();
    // The create dies with the agent, so its answer is only kept to explain a start that never got there.
    let answer = "none";
    const dying = node;
    node.json("VM.create", { vmParams: guestVm(vmId, { display: "none" }) }).then(
      (r) => (answer = JSON.stringify(r)),
      (err: unknown) => (answer = String(err)),
    );
    await waitFor("the agent to die at the fault point", () => dying.proc.exitCode !== null || dying.proc.signalCode !== null, 20_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; VM.create answered ${answer}; the agent's log ends:\n${dying.output().slice(-3000)}`);
    });
    node = await startVirtNode({ runDir, port });
    const st = await waitStatus(node, vmId, "Up", 20_000);
    assert.equal(st.qemuStatus, "running");
    await waitConsole(runDir, vmId, "GUEST-UP", 60_000);
    await node.json("VM.destroy", { vmID: vmId });
  });
});
