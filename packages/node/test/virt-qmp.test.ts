/**
 * The node's QMP client against a real QEMU (TCG) running the test guest: greeting and
 * negotiation, typed commands, events (STOP, RESUME, BLOCK_WRITE_THRESHOLD, SHUTDOWN), QEMU's
 * errors as QmpError, and a closed connection failing pending and later commands.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { QmpClient, QmpClosedError, QmpError } from "../src/qemu/qmp.js";
import { processAlive, testGuest, waitFor } from "./virt-support.js";

const dir = mkdtempSync(join(tmpdir(), "vela-qmp-"));
const qmpPath = join(dir, "qmp.sock");
const disk = join(dir, "disk.qcow2");
let pid = 0;
let qmp: QmpClient;

before(async () => {
  const g = testGuest();
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", disk, "64M"]);
  execFileSync("qemu-system-x86_64", [
    "-nodefaults", "-no-user-config", "-display", "none", "-accel", "tcg", "-m", "160",
    "-daemonize", "-pidfile", join(dir, "pid"), "-S",
    "-chardev", `socket,id=qmp,path=${qmpPath},server=on,wait=off`, "-mon", "chardev=qmp,mode=control",
    "-chardev", `file,id=ser0,path=${join(dir, "console.log")}`, "-serial", "chardev:ser0",
    "-kernel", g.kernel, "-initrd", g.initrd, "-append", "console=ttyS0 panic=-1 quiet vela.write=16",
    "-blockdev", JSON.stringify({ driver: "file", filename: disk, "node-name": "file0" }),
    "-blockdev", JSON.stringify({ driver: "qcow2", file: "file0", "node-name": "drive0" }),
    "-device", JSON.stringify({ driver: "virtio-blk-pci", drive: "drive0", id: "disk0" }),
    "-nic", "none",
  ]);
  pid = Number(readFileSync(join(dir, "pid"), "utf8"));
  qmp = await QmpClient.connect(qmpPath);
});
after(() => {
  if (processAlive(pid)) process.kill(pid, "SIGKILL");
});

describe("QMP client", () => {
  test("reads the run state: prelaunch under -S", async () => {
    const st = await qmp.queryStatus();
    assert.equal(st.status, "prelaunch");
    assert.equal(st.running, false);
  });

  test("arms a write threshold on the file node; the guest's writes fire BLOCK_WRITE_THRESHOLD", async () => {
    await qmp.blockSetWriteThreshold("file0", 8 * 2 ** 20);
    const fired = qmp.once("BLOCK_WRITE_THRESHOLD", 90_000);
    const resumed = qmp.once("RESUME", 5000);
    await qmp.cont();
    await resumed;
    assert.equal((await qmp.queryStatus()).status, "running");
    const ev = await fired;
    assert.equal(ev["node-name"], "file0");
    assert.equal(ev["write-threshold"], 8 * 2 ** 20);
    assert.ok(ev["amount-exceeded"] > 0);
  });

  test("stop and cont emit STOP and RESUME and change query-status", async () => {
    const stopped = qmp.once("STOP", 5000);
    await qmp.stop();
    await stopped;
    assert.equal((await qmp.queryStatus()).status, "paused");
    const resumed = qmp.once("RESUME", 5000);
    await qmp.cont();
    await resumed;
    assert.equal((await qmp.queryStatus()).running, true);
  });

  test("per-node block statistics show the guest's writes", async () => {
    await waitFor("guest write done", () => readFileSync(join(dir, "console.log"), "latin1").includes("GUEST-WRITE-DONE"), 90_000);
    const dev = (await qmp.queryBlockstats(false)).find((e) => e["node-name"] === "drive0");
    assert.ok(dev, "device entry for drive0");
    assert.ok(dev.stats.wr_bytes >= 16 * 2 ** 20, `wr_bytes ${dev.stats.wr_bytes}`);
    assert.ok((dev.parent?.stats.wr_highest_offset ?? 0) >= 16 * 2 ** 20);
  });

  test("an error answer is a QmpError with QEMU's class", async () => {
    await assert.rejects(qmp.blockSetWriteThreshold("no-such-node", 1), (e: unknown) => e instanceof QmpError && e.errorClass === "GenericError");
  });

  test("query-vnc answers even without a VNC server", async () => {
    assert.equal((await qmp.queryVnc()).enabled, false);
  });

  test("system_powerdown reaches the guest: POWERDOWN then SHUTDOWN(guest) and the socket closes", async () => {
    const shut = qmp.once("SHUTDOWN", 30_000);
    await qmp.systemPowerdown();
    const ev = await shut;
    assert.equal(ev.guest, true);
    await qmp.closed;
    assert.equal(qmp.isOpen, false);
    await assert.rejects(qmp.queryStatus(), QmpClosedError);
    await waitFor("QEMU gone", () => !processAlive(pid), 5000);
  });
});
