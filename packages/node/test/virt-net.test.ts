/**
 * VM networking: a NIC on a named Linux bridge gets a tap created by the node, the guest answers
 * pings from the host through it, and destroy removes the tap; QEMU user networking gives the
 * guest a DHCP lease without any host device. The bridge is made by the test (the node never
 * creates bridges) and removed afterwards.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { NodeProc } from "./harness.js";
import { guestVm, startVirtNode, waitConsole, waitStatus, stopWithVms } from "./virt-support.js";

const bridge = `vtb${randomBytes(3).toString("hex")}`;
// a random /29 of TEST-NET-2 (198.51.100.0/24): a documentation range, never a real network, and
// small enough that concurrent runs on this machine rarely pick the same one
const block = 8 * (1 + ((randomBytes(1)[0] as number) % 30));
const hostAddr = `198.51.100.${block + 1}`;
const guestAddr = `198.51.100.${block + 2}`;
let node: NodeProc;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "ignore" });
}

function tapsOnBridge(): string[] {
  const d = `/sys/class/net/${bridge}/brif`;
  return existsSync(d) ? readdirSync(d) : [];
}

before(async () => {
  ip("link", "add", bridge, "type", "bridge");
  ip("addr", "add", `${hostAddr}/29`, "dev", bridge);
  ip("link", "set", bridge, "up");
  node = await startVirtNode();
});
after(async () => {
  await stopWithVms(node);
  ip("link", "del", bridge);
});

describe("bridged NIC", () => {
  const vmId = randomUUID();
  const mac = "52:54:00:aa:bb:01";

  test("the guest is reachable from the host over the bridge", async () => {
    await node.json("VM.create", {
      vmParams: guestVm(vmId, { display: "none", args: `vela.ip=${guestAddr}/29`, nics: [{ macAddr: mac, network: bridge }] }),
    });
    await waitStatus(node, vmId, "Up", 30_000);
    assert.equal(tapsOnBridge().length, 1, "one tap joined the bridge");
    await waitConsole(node.runDir, vmId, `GUEST-NET-UP ${guestAddr}/29`, 60_000);
    // busybox's ping: the host has no iputils
    execFileSync("busybox", ["ping", "-c", "1", "-W", "5", guestAddr], { stdio: "ignore" });
    const neigh = execFileSync("ip", ["neigh", "show", guestAddr, "dev", bridge], { encoding: "utf8" });
    assert.match(neigh, new RegExp(mac), "the guest answers with the MAC the engine chose");
  });

  test("destroy removes the tap", async () => {
    const tap = tapsOnBridge()[0];
    await node.json("VM.destroy", { vmID: vmId });
    assert.equal(existsSync(`/sys/class/net/${tap}`), false);
    assert.deepEqual(tapsOnBridge(), []);
  });
});

describe("user networking", () => {
  test("the guest gets QEMU's DHCP lease and no host device is created", async () => {
    const vmId = randomUUID();
    const before = readdirSync("/sys/class/net").length;
    await node.json("VM.create", {
      vmParams: guestVm(vmId, { display: "none", args: "vela.ip=dhcp", nics: [{ macAddr: "52:54:00:aa:bb:02", network: "user" }] }),
    });
    await waitConsole(node.runDir, vmId, "GUEST-NET-UP 10.0.2.15", 60_000);
    assert.equal(readdirSync("/sys/class/net").length, before);
    await node.json("VM.destroy", { vmID: vmId });
  });
});
