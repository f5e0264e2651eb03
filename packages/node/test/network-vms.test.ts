/**
 * VMs on logical networks, end to end on the node side: two hosts (agents in network namespaces
 * joined by veths to a switch bridge) each build the network `vmnet` with setupNetworks; a VM on
 * each host gets a tap on that bridge, and the second VM pings the first across hosts. A third VM
 * on another network (its own switch) cannot reach them. Then the first VM's link is pulled and
 * put back live (QMP set_link), and its NIC is hot-unplugged (tap gone, unreachable) and a new
 * one hot-plugged (an e1000: the guest only has virtio drivers, so models other than virtio are
 * proven by QEMU accepting them, not by guest traffic). Real QEMU under TCG, real bridges and taps; addresses in 198.51.100.0/24 exist
 * only inside the test's namespaces.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type VerbName, verbs } from "@vela/protocol";
import { type NodeProc, RpcError } from "./harness.js";
import { Lab, type LabHost, nsIp, nsRun } from "./netlab.js";
import { consoleLog, guestVm, startVirtNode, stopWithVms, waitConsole, waitFor } from "./virt-support.js";

const lab = new Lab();
const hosts: LabHost[] = [];
const nodes: NodeProc[] = [];
const mac = () => `52:54:00:${randomBytes(3).toString("hex").match(/../g)?.join(":")}`;
const vmA = randomUUID();
const vmB = randomUUID();
const vmC = randomUUID();
const macA = mac();

function bridgePorts(ns: string, bridge: string): string[] {
  return (JSON.parse(nsIp(ns, "-j", "link", "show", "master", bridge)) as { ifname: string }[]).map((l) => l.ifname).sort();
}

/** From host 0's bridge address: does the VM answer? */
/** Waits for a console marker; on timeout the error carries the console's tail. */
async function marker(node: NodeProc, vmId: string, text: string, ms: number): Promise<void> {
  try {
    await waitConsole(node.runDir, vmId, text, ms);
  } catch (e) {
    throw new Error(`${(e as Error).message}; console tail:\n${consoleLog(node.runDir, vmId).slice(-1500)}`);
  }
}

/** A verb's answer must parse with its result schema in the verb table. */
async function checked(node: NodeProc, name: VerbName, params: Record<string, unknown>): Promise<unknown> {
  const answer = await node.json(verbs[name].json, params);
  const r = verbs[name].returns.safeParse(answer);
  assert.ok(r.success, `${verbs[name].json} answered ${JSON.stringify(answer).slice(0, 400)}`);
  return answer;
}

const reachesA = () => nsRun(hosts[0]!.ns, "busybox", "ping", "-c", "1", "-W", "2", "198.51.100.21");

before(async () => {
  const data = lab.addSwitch();
  const other = lab.addSwitch();
  for (let i = 0; i < 2; i++) {
    const h = lab.addHost();
    lab.plug(h.ns, "eth1", data);
    hosts.push(h);
    nodes.push(await startVirtNode({ netns: h.ns, host: h.address, env: { VELA_NODE_LISTEN: h.address, VELA_NODE_ADDRESS: h.address } }));
  }
  lab.plug(hosts[1]!.ns, "eth2", other);
  await nodes[0]!.json("Host.setupNetworks", { networks: { vmnet: { nic: "eth1", ipaddr: "198.51.100.11", prefix: 24 } } });
  await nodes[1]!.json("Host.setupNetworks", { networks: { vmnet: { nic: "eth1", ipaddr: "198.51.100.12", prefix: 24 }, isol: { nic: "eth2" } } });
});
after(async () => {
  for (const n of nodes) await stopWithVms(n);
  lab.close();
});

describe("VMs on networks across hosts", () => {
  test("two VMs on one network, on two hosts, ping each other; a VM on another network cannot", async () => {
    await nodes[0]!.json("VM.create", { vmParams: guestVm(vmA, { display: "none", args: "vela.ip=198.51.100.21/24", nics: [{ macAddr: macA, network: "vmnet" }] }) });
    await nodes[1]!.json("VM.create", {
      vmParams: guestVm(vmB, { display: "none", args: "vela.ip=198.51.100.22/24 vela.ping=198.51.100.21,90", nics: [{ macAddr: mac(), network: "vmnet" }] }),
    });
    await nodes[1]!.json("VM.create", {
      vmParams: guestVm(vmC, { display: "none", args: "vela.ip=198.51.100.23/24 vela.ping=198.51.100.21,8", nics: [{ macAddr: mac(), network: "isol" }] }),
    });
    assert.equal(bridgePorts(hosts[0]!.ns, "vmnet").length, 2, "eth1 and the VM's tap");
    await marker(nodes[1]!, vmB, "GUEST-PING-OK 198.51.100.21", 150_000);
    await marker(nodes[1]!, vmC, "GUEST-PING-FAIL 198.51.100.21", 150_000);
  });

  test("pulling the link cuts the VM off; putting it back restores it", async () => {
    await waitFor("VM A answering pings", () => reachesA() || undefined, 30_000, 500);
    await checked(nodes[0]!, "vmUpdateDevice", { vmID: vmA, params: { deviceType: "interface", macAddr: macA, linkActive: false } });
    assert.equal(reachesA(), false, "no answer with the link down");
    await nodes[0]!.json("VM.updateDevice", { vmID: vmA, params: { deviceType: "interface", macAddr: macA, linkActive: true } });
    await waitFor("VM A answering again", () => reachesA() || undefined, 30_000, 500);
  });

  test("a link change on an unknown NIC is refused", async () => {
    await assert.rejects(
      nodes[0]!.json("VM.updateDevice", { vmID: vmA, params: { deviceType: "interface", macAddr: "52:54:00:00:00:99", linkActive: false } }),
      (e: unknown) => e instanceof RpcError && e.code === 56,
    );
  });

  test("hot-unplug removes the NIC and its tap; hot-plug adds one", async () => {
    const [tap] = bridgePorts(hosts[0]!.ns, "vmnet").filter((p) => p !== "eth1");
    await checked(nodes[0]!, "hotunplugNic", { params: { vmId: vmA, nic: { macAddr: macA } } });
    assert.deepEqual(bridgePorts(hosts[0]!.ns, "vmnet"), ["eth1"], "the tap left the bridge");
    assert.equal(nsRun(hosts[0]!.ns, "test", "-e", `/sys/class/net/${tap}`), false, "the tap is gone");
    assert.equal(reachesA(), false);
    const list = (await checked(nodes[0]!, "hotplugNic", { params: { vmId: vmA, nic: { macAddr: mac(), network: "vmnet", nicModel: "e1000" } } })) as { nics: unknown[] };
    assert.equal(list.nics.length, 1);
    assert.equal(bridgePorts(hosts[0]!.ns, "vmnet").length, 2);
    await assert.rejects(
      nodes[0]!.json("VM.hotplugNic", { params: { vmId: vmA, nic: { macAddr: mac(), network: "nosuchbr" } } }),
      (e: unknown) => e instanceof RpcError && e.code === 49 && /does not exist/.test(e.message),
    );
  });

  test("destroy removes the VM's taps; a bridge with VM ports cannot be removed", async () => {
    await assert.rejects(nodes[1]!.json("Host.setupNetworks", { networks: { isol: { remove: true } } }), (e: unknown) => e instanceof RpcError && e.code === 28);
    await nodes[0]!.json("VM.destroy", { vmID: vmA });
    assert.deepEqual(bridgePorts(hosts[0]!.ns, "vmnet"), ["eth1"]);
  });
});

