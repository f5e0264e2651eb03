/**
 * Host networking verbs against a real kernel: an agent runs in a network namespace of its own
 * (eth0 its management link, eth1/eth2 spare NICs, all veths into the test's switches) and
 * builds bridges with iproute2 through setupNetworks. Proves: capabilities reflect the host,
 * networks are built and removed, bad requests are refused with VDSM's codes and change nothing,
 * a failure mid-way and a missing connectivity ping both roll back, and a restarted agent brings
 * back the safe configuration (rebuilding what a reboot removed, undoing unsafe changes).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { verbs } from "@vela/protocol";
import { type NodeProc, RpcError, startNode } from "./harness.js";
import { Lab, type LabHost, nsIp } from "./netlab.js";

const lab = new Lab();
let host: LabHost;
let node: NodeProc;
let runDir: string;
let dhcpd: ChildProcess | undefined;

interface Caps {
  nics: Record<string, { addr: string; ipv4addrs: string[] }>;
  bridges: Record<string, { ports: string[] }>;
  networks: Record<string, { iface: string; addr: string; netmask: string; ports: string[]; bridged: boolean }>;
  supports: { vlan: boolean; bonding: boolean };
}

async function start(dir?: string): Promise<NodeProc> {
  return startNode({
    netns: host.ns,
    host: host.address,
    runDir: dir,
    env: { VELA_NODE_LISTEN: host.address, VELA_NODE_ADDRESS: host.address },
  });
}

/** getNetworkCapabilities, checked against its result schema in the verb table. */
async function caps(): Promise<Caps> {
  const answer = await node.json("Host.getNetworkCapabilities");
  const r = verbs.getNetworkCapabilities.returns.safeParse(answer);
  assert.ok(r.success, `capabilities do not match their schema: ${JSON.stringify(r.error?.issues.slice(0, 2))}`);
  return answer as Caps;
}

/** What the kernel in the host namespace has: links with their masters and IPv4 addresses. */
function hostState(): string {
  const links = JSON.parse(nsIp(host.ns, "-j", "-4", "addr", "show")) as { ifname: string; addr_info: { local: string; prefixlen: number }[] }[];
  const masters = JSON.parse(nsIp(host.ns, "-j", "link", "show")) as { ifname: string; master?: string }[];
  const m = new Map(masters.map((l) => [l.ifname, l.master ?? ""]));
  return [...masters.map((l) => l.ifname)]
    .sort()
    .map((n) => `${n}@${m.get(n)}:${(links.find((l) => l.ifname === n)?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).join(",")}`)
    .join(" ");
}

async function refused(params: Record<string, unknown>, code: number, match: RegExp): Promise<void> {
  const before = hostState();
  await assert.rejects(node.json("Host.setupNetworks", params), (e: unknown) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, match);
    return true;
  });
  assert.equal(hostState(), before, "a refused request changes nothing on the host");
}

let sw: string;

before(async () => {
  host = lab.addHost();
  sw = lab.addSwitch();
  lab.plug(host.ns, "eth1", sw);
  lab.plug(host.ns, "eth2", sw);
  node = await start();
  runDir = node.runDir;
});
after(async () => {
  dhcpd?.kill("SIGKILL");
  await node?.stop();
  lab.close();
});

describe("capabilities and setup", () => {
  test("the host's NICs and addresses are reported", async () => {
    const c = await caps();
    assert.deepEqual(Object.keys(c.nics).sort(), ["eth0", "eth1", "eth2"]);
    assert.deepEqual(c.nics.eth0?.ipv4addrs, [`${host.address}/24`]);
    assert.deepEqual(c.networks, {});
  });

  test("a bridged network with a static address is built on a NIC", async () => {
    await node.json("Host.setupNetworks", { networks: { vmnet: { nic: "eth1", ipaddr: "198.51.100.11", prefix: 24, mtu: 1400 } } });
    const c = await caps();
    assert.deepEqual(c.bridges.vmnet?.ports, ["eth1"]);
    assert.equal(c.networks.vmnet?.addr, "198.51.100.11");
    assert.equal(c.networks.vmnet?.netmask, "255.255.255.0");
    assert.match(nsIp(host.ns, "link", "show", "eth1"), /mtu 1400 .*master vmnet/);
  });
});

describe("bad input: refused, nothing changed", () => {
  test("VLAN id out of range, malformed names, unknown fields", async () => {
    await refused({ networks: { red: { nic: "eth2", vlan: 4095 } } }, 1000, /VLAN id out of range/);
    await refused({ networks: { "red;rm": { nic: "eth2" } } }, 1000, /networks\.red;rm.*(Invalid key|not a network name)/);
    await refused({ networks: { red: { nic: "eth2 up" } } }, 1000, /not an interface name/);
    await refused({ networks: { red: { nic: "eth2", script: "x" } } }, 1000, /unrecognized key/i);
    await refused({ networks: { red: { nic: "eth2", ipaddr: "198.51.100.300", prefix: 24 } } }, 1000, /not an IPv4 address/);
  });

  test("an unknown NIC, or a device that is not a NIC", async () => {
    await refused({ networks: { red: { nic: "eth9" } } }, 23, /no interface eth9/);
    await refused({ networks: { red: { nic: "vmnet" } } }, 23, /bridge, not a NIC/);
  });

  test("a bridge name collision with an existing interface", async () => {
    await refused({ networks: { eth2: { nic: "eth1" } } }, 28, /already exists/);
    nsIp(host.ns, "link", "add", "name", "foreign", "type", "bridge");
    try {
      await refused({ networks: { foreign: { nic: "eth2" } } }, 28, /an interface named foreign already exists/);
    } finally {
      nsIp(host.ns, "link", "del", "foreign");
    }
  });

  test("two untagged networks on one NIC", async () => {
    await refused({ networks: { other: { nic: "eth1" } } }, 24, /both want untagged eth1/);
  });

  test("a VLAN on a kernel without 802.1Q, bonds without a bonding driver", async (t) => {
    const c = await caps();
    if (c.supports.vlan) t.diagnostic("this kernel has 802.1Q: the VLAN path is exercised where it exists");
    else await refused({ networks: { red: { nic: "eth2", vlan: 100 } } }, 26, /no 802.1Q/);
    if (c.supports.bonding) t.diagnostic("this kernel has bonding: bonds are built in the test below");
    else await refused({ bondings: { bond0: { nics: ["eth2"], options: "mode=1 miimon=100" } } }, 25, /no bonding driver/);
  });

  test("bad bonds, on any kernel: options, NICs, names, the engine's link", async () => {
    await refused({ bondings: { bond0: { nics: ["eth2"], options: "mode=1 evil=1" } } }, 25, /unknown option "evil=1"/);
    await refused({ bondings: { bond0: { nics: ["eth2"], options: "mode=9" } } }, 25, /bad value in "mode=9"/);
    await refused({ bondings: { bond0: { nics: ["eth2"], options: "miimon=-1" } } }, 25, /bad value/);
    await refused({ bondings: { bond0: { nics: ["eth2"], options: "lacp_rate=constructor" } } }, 25, /bad value in "lacp_rate=constructor"/);
    await refused({ bondings: { bond0: { nics: ["eth2"], options: "mode=1;reboot" } } }, 1000, /bond options/);
    await refused({ bondings: { "bond0;x": { nics: ["eth2"] } } }, 1000, /bondings\.bond0;x.*(Invalid key|not a bond name)/);
    await refused({ bondings: { bond0: {} } }, 25, /needs its nics/);
    await refused({ bondings: { bond0: { nics: ["eth9"] } } }, 23, /no interface eth9/);
    await refused({ bondings: { bond0: { nics: ["eth1"] } } }, 24, /eth1 is already a port of vmnet/);
    await refused({ bondings: { bond0: { nics: ["eth2", "eth2"] } } }, 25, /named twice/);
    await refused({ bondings: { bond0: { nics: ["eth2"] }, bond1: { nics: ["eth2"] } } }, 24, /both want eth2/);
    await refused({ bondings: { bond0: { nics: ["eth0"] } } }, 24, /would take eth0, the link the engine reaches/);
    await refused({ bondings: { bond3: { remove: true } } }, 25, /bond3 is not configured/);
    await refused({ networks: { bnet: { bonding: "bond0" } } }, 25, /no bond bond0/);
    await refused({ bondings: { bond0: { nics: ["eth2"] } }, networks: { bnet: { nic: "eth2" } } }, 24, /eth2 is a slave of bond bond0/);
    if (!(await caps()).supports.bonding) {
      // moving vmnet's NIC into a new bond that carries vmnet passes every check (the NIC is freed
      // by the same request) and stops only at the missing driver
      const move = { bondings: { bond0: { nics: ["eth1"], options: "mode=1" } }, networks: { vmnet: { bonding: "bond0", ipaddr: "198.51.100.11", prefix: 24 } } };
      await refused(move, 25, /no bonding driver/);
    }
    nsIp(host.ns, "link", "add", "name", "bond7", "type", "bridge");
    try {
      await refused({ bondings: { bond7: { nics: ["eth2"] } } }, 25, /an interface named bond7 already exists/);
    } finally {
      nsIp(host.ns, "link", "del", "bond7");
    }
  });

  test("a bond with a network on it: built, changed, guarded, removed (where the kernel has bonding)", async (t) => {
    if (!(await caps()).supports.bonding) {
      t.skip("this kernel has no bonding driver (CI's has neither bonding nor 8021q): refusal tested above");
      return;
    }
    const bondOf = async () => (await node.json("Host.getNetworkCapabilities")) as Caps & { bondings: Record<string, { slaves: string[]; opts: { mode: string } }> };
    await node.json("Host.setupNetworks", {
      bondings: { bond0: { nics: ["eth2"], options: "mode=1 miimon=100" } },
      networks: { bnet: { bonding: "bond0", ipaddr: "198.51.100.31", prefix: 24 } },
    });
    let c = await bondOf();
    assert.deepEqual(c.bondings.bond0?.slaves, ["eth2"]);
    assert.equal(c.bondings.bond0?.opts.mode, "active-backup");
    assert.deepEqual(c.bridges.bnet?.ports, ["bond0"]);
    assert.equal(c.networks.bnet?.addr, "198.51.100.31");
    await node.json("Host.setupNetworks", { bondings: { bond0: { options: "mode=0 miimon=100" } } });
    c = await bondOf();
    assert.equal(c.bondings.bond0?.opts.mode, "balance-rr", "the mode changed");
    assert.deepEqual(c.bondings.bond0?.slaves, ["eth2"], "its NIC enslaved again");
    await refused({ bondings: { bond0: { remove: true } } }, 25, /still carries network bnet/);
    await node.json("Host.setupNetworks", { bondings: { bond0: { remove: true } }, networks: { bnet: { remove: true } } });
    c = await bondOf();
    assert.deepEqual(c.bondings, {});
    assert.doesNotMatch(nsIp(host.ns, "link", "show", "eth2"), /master/, "eth2 is free again");
  });

  test("removing a network that does not exist", async () => {
    await refused({ networks: { nosuch: { remove: true } } }, 27, /not configured/);
  });

  test("a change that would cut the engine's own link is refused", async () => {
    await refused({ networks: { mgmt: { nic: "eth0" } } }, 24, /would cut the link the engine reaches this host on/);
    await refused({ networks: { mgmt: { nic: "eth0", ipaddr: "192.0.2.250", prefix: 24 } } }, 24, /would cut the link/);
    // and it still answers over that link
    await node.json("Host.ping");
  });
});

describe("rollback", () => {
  test("a step failing mid-way puts the network back as it was", async () => {
    const before = hostState();
    await assert.rejects(
      node.json("Host.setupNetworks", {
        networks: { vmnet: { nic: "eth1", ipaddr: "198.51.100.12", prefix: 24, gateway: "203.0.113.1", defaultRoute: true } },
      }),
      (e: unknown) => e instanceof RpcError && e.code === 29 && /203\.0\.113\.1|gateway|Nexthop/i.test(e.message),
    );
    assert.equal(hostState(), before);
    assert.equal((await caps()).networks.vmnet?.addr, "198.51.100.11");
  });

  test("without a ping within the connectivity timeout the change is rolled back", async () => {
    const before = hostState();
    const t0 = Date.now();
    await assert.rejects(
      node.json("Host.setupNetworks", {
        networks: { vmnet: { nic: "eth1", ipaddr: "198.51.100.13", prefix: 24 } },
        options: { connectivityCheck: true, connectivityTimeout: 2 },
      }),
      (e: unknown) => e instanceof RpcError && e.code === 10,
    );
    assert.ok(Date.now() - t0 >= 2000, "waited for the timeout");
    assert.equal(hostState(), before);
  });

  test("with a ping over the new configuration the change stays", async () => {
    const pending = node.json("Host.setupNetworks", {
      networks: { vmnet: { nic: "eth1", ipaddr: "198.51.100.13", prefix: 24 } },
      options: { connectivityCheck: true, connectivityTimeout: 20 },
    });
    let done = false;
    void pending.finally(() => (done = true)).catch(() => {});
    while (!done) {
      await node.json("Host.ping");
      await new Promise((r) => setTimeout(r, 200));
    }
    await pending;
    assert.equal((await caps()).networks.vmnet?.addr, "198.51.100.13");
  });
});

describe("persistence", () => {
  test("a restarted agent restores the safe configuration and undoes unsafe changes", async () => {
    await node.json("Host.setSafeNetworkConfig");
    await node.json("Host.setupNetworks", { networks: { extra: { nic: "eth2", ipaddr: "198.51.100.14", prefix: 24 } } });
    await node.kill("SIGKILL");
    // as a reboot would: the safe network's bridge is gone
    nsIp(host.ns, "link", "del", "vmnet");
    node = await start(runDir);
    const c = await caps();
    assert.deepEqual(Object.keys(c.networks), ["vmnet"], "the unsafe network extra was undone");
    assert.deepEqual(c.bridges.vmnet?.ports, ["eth1"]);
    assert.equal(c.networks.vmnet?.addr, "198.51.100.13");
    assert.equal(c.bridges.extra, undefined);
    assert.deepEqual(c.nics.eth2?.ipv4addrs, []);
  });

  test("removing a network frees its NIC", async () => {
    await node.json("Host.setupNetworks", { networks: { vmnet: { remove: true } } });
    const c = await caps();
    assert.deepEqual(c.networks, {});
    assert.equal(c.bridges.vmnet, undefined);
    assert.doesNotMatch(nsIp(host.ns, "link", "show", "eth1"), /master/);
  });
});

describe("DHCP", () => {
  test("a network with bootproto dhcp takes its address from a DHCP server on the segment", async () => {
    // a DHCP server (busybox udhcpd) in a namespace of its own on the same switch as eth2
    const server = lab.addNamespace();
    lab.plug(server, "eth0", sw);
    nsIp(server, "addr", "add", "198.51.100.1/24", "dev", "eth0");
    const dir = mkdtempSync(join(tmpdir(), "vela-dhcpd-"));
    const conf = join(dir, "udhcpd.conf");
    writeFileSync(conf, `start 198.51.100.100\nend 198.51.100.110\ninterface eth0\nlease_file ${join(dir, "leases")}\noption subnet 255.255.255.0\noption router 198.51.100.1\n`);
    writeFileSync(join(dir, "leases"), "");
    dhcpd = spawn("ip", ["netns", "exec", server, "busybox", "udhcpd", "-f", conf], { stdio: "ignore" });
    await node.json("Host.setupNetworks", { networks: { dnet: { nic: "eth2", bootproto: "dhcp" } } });
    const c = await caps();
    assert.match(c.networks.dnet?.addr ?? "", /^198\.51\.100\.1(0[0-9]|10)$/, JSON.stringify(c.networks.dnet));
    assert.equal(c.networks.dnet?.netmask, "255.255.255.0");
    assert.deepEqual(c.bridges.dnet?.ports, ["eth2"]);
    await node.json("Host.setupNetworks", { networks: { dnet: { remove: true } } });
    assert.equal((await caps()).bridges.dnet, undefined);
  });

  test("without a DHCP server the network is rolled back", async () => {
    dhcpd?.kill("SIGKILL");
    const before = hostState();
    await refused({ networks: { dnet: { nic: "eth2", bootproto: "dhcp" } } }, 22, /no DHCP lease/);
    assert.equal(hostState(), before);
  });
});
