/**
 * Nicless (uplink-less) bridged networks, as `vela up` gives its hosts ovirtmgmt: two agents in
 * one network namespace (as several `vela up` on one machine) both set up the same network. It is
 * one bridge, made once and adopted by the second agent (idempotent), never given an uplink; an
 * agent that stops or removes the network leaves the bridge while other agents' VM taps are on
 * it; a name held by something that is not an uplink-less bridge is refused and nothing changes.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type NodeProc, RpcError, startNode } from "./harness.js";
import { Lab, type LabHost, nsIp } from "./netlab.js";

const lab = new Lab();
let host: LabHost;
let a: NodeProc;
let b: NodeProc;
const NET = "mgmtlocal";

interface Caps {
  bridges: Record<string, { ports: string[] }>;
  networks: Record<string, { iface: string; bridged: boolean; ports: string[] }>;
}

const start = () => startNode({ netns: host.ns, host: host.address, env: { VELA_NODE_LISTEN: host.address, VELA_NODE_ADDRESS: host.address } });

function link(name: string): { ifname: string; operstate: string; master?: string; linkinfo?: { info_kind?: string } } | undefined {
  try {
    return (JSON.parse(nsIp(host.ns, "-j", "-d", "link", "show", "dev", name)) as { ifname: string; operstate: string; master?: string }[])[0];
  } catch {
    return undefined;
  }
}

const ports = (br: string) => (JSON.parse(nsIp(host.ns, "-j", "link", "show", "master", br)) as { ifname: string }[]).map((l) => l.ifname).sort();

before(async () => {
  host = lab.addHost();
  [a, b] = await Promise.all([start(), start()]);
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  lab.close();
});

describe("a host-local bridge shared by agents", () => {
  test("the first agent makes the bridge without an uplink; the second adopts it; again is a no-op", async () => {
    await a.json("Host.setupNetworks", { networks: { [NET]: { bridged: true } } });
    const made = link(NET);
    assert.equal(made?.linkinfo?.info_kind, "bridge", `no bridge ${NET}: ${JSON.stringify(made)}`);
    assert.deepEqual(ports(NET), [], "a nicless bridge has no uplink port");
    assert.notEqual(made?.operstate, "DOWN", "the bridge is set up");
    await b.json("Host.setupNetworks", { networks: { [NET]: { bridged: true } } });
    await a.json("Host.setupNetworks", { networks: { [NET]: { bridged: true } } });
    for (const n of [a, b]) {
      const c = (await n.json("Host.getNetworkCapabilities")) as Caps;
      assert.equal(c.networks[NET]?.iface, NET, `agent lists the network: ${JSON.stringify(c.networks)}`);
      assert.equal(c.networks[NET]?.bridged, true);
    }
    // eth0 (the engine's link) stayed where it was
    assert.equal(link("eth0")?.master, undefined, "the host's uplink is never moved into the bridge");
  });

  test("an agent removing the network or stopping leaves the bridge while another's VM tap is on it", async () => {
    nsIp(host.ns, "tuntap", "add", "dev", "tapother0", "mode", "tap");
    nsIp(host.ns, "link", "set", "dev", "tapother0", "master", NET);
    await b.json("Host.setupNetworks", { networks: { [NET]: { remove: true } } });
    assert.deepEqual(ports(NET), ["tapother0"], "the bridge and the other agent's tap are still there");
    const cb = (await b.json("Host.getNetworkCapabilities")) as Caps;
    assert.equal(cb.networks[NET], undefined, "the removing agent no longer lists it");
    await b.stop();
    assert.equal(link(NET)?.linkinfo?.info_kind, "bridge", "a stopped agent leaves the bridge");
    const ca = (await a.json("Host.getNetworkCapabilities")) as Caps;
    assert.deepEqual(ca.networks[NET]?.ports, ["tapother0"]);
    // a restarted agent with its own (empty) configuration does not touch it either
    b = await start();
    assert.deepEqual(ports(NET), ["tapother0"]);
    nsIp(host.ns, "link", "del", "dev", "tapother0");
    await a.json("Host.setupNetworks", { networks: { [NET]: { remove: true } } });
    assert.equal(link(NET), undefined, "the last user's removal of an empty bridge deletes it");
  });
});

describe("bad input: refused, nothing changed", () => {
  const refused = async (params: Record<string, unknown>, code: number, match: RegExp) => {
    const before = nsIp(host.ns, "-br", "link", "show");
    await assert.rejects(a.json("Host.setupNetworks", params), (e: unknown) => {
      assert.ok(e instanceof RpcError, String(e));
      assert.equal(e.code, code, e.message);
      assert.match(e.message, match);
      return true;
    });
    assert.equal(nsIp(host.ns, "-br", "link", "show"), before, "a refused request changes nothing");
  };

  test("a nicless network named like a NIC, or like a bridge with an uplink", async () => {
    await refused({ networks: { eth0: { bridged: true } } }, 28, /not an uplink-less bridge/);
    nsIp(host.ns, "link", "add", "name", "upl", "type", "bridge");
    nsIp(host.ns, "link", "add", "name", "uplport", "type", "veth", "peer", "name", "uplpeer");
    nsIp(host.ns, "link", "set", "dev", "uplport", "master", "upl");
    try {
      await refused({ networks: { upl: { bridged: true } } }, 28, /not an uplink-less bridge/);
    } finally {
      nsIp(host.ns, "link", "del", "uplport");
      nsIp(host.ns, "link", "del", "upl");
    }
  });

  test("no uplink for a bridgeless network or a VLAN; both nic and bonding", async () => {
    await refused({ networks: { x: { bridged: false } } }, 1000, /bridgeless network needs a nic/);
    await refused({ networks: { x: { vlan: 10 } } }, 1000, /VLAN needs a nic/);
    await refused({ networks: { x: { nic: "eth0", bonding: "bond0" } } }, 1000, /at most one of nic or bonding/);
  });
});
