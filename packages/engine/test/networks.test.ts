/**
 * Networks through the REST API with real node agents: two hosts run in network namespaces the
 * test makes (eth0 on a management switch the engine listens on, eth1 on a data switch), the
 * default ovirtmgmt exists, a VM network is added, attached to the cluster and set up on both
 * hosts with setupnetworks; VMs get NICs from the MAC pool, boot the test guest and ping each
 * other across hosts; the link is pulled and the NIC unplugged live. Bad input on every resource
 * is a clear fault and leaves the host unchanged. Addresses: 192.0.2.0/24 (management, /32 routes
 * only in the root namespace) and 198.51.100.0/24 (only inside the namespaces and guests).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Lab, nsRun as nsOk } from "@vela/testkit/netlab";
import { type Engine, firstClusterId, firstDcId, items, type Node, qemuOf, startEngine, startNode, until } from "./support.js";

const here = dirname(fileURLToPath(import.meta.url));
const TOKEN = "net-token";
/** The lab's switches, namespaces and root-namespace addresses (reserved across test processes). */
const lab = new Lab();
const namespaces: string[] = [];
let eng: Engine;
const nodes: Node[] = [];
const hostAddr: string[] = [];
const vmIds: string[] = [];

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
/** Links, masters and addresses in a host namespace: what "nothing changed" compares. */
function hostState(ns: string): string {
  return ip("-n", ns, "-br", "addr").split("\n").sort().join("\n") + ip("-n", ns, "-o", "link").replace(/^\d+: /gm, "").split("\n").map((l) => l.replace(/ link\/.*$/, "")).sort().join("\n");
}
function consoleOf(node: Node, vmId: string): string {
  const p = join(node.runDir, "vms", vmId, "console.log");
  return existsSync(p) ? readFileSync(p, "latin1") : "";
}

const guestDir = () => execFileSync("bash", [resolve(here, "../../../../scripts/build-test-guest.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() as string;

before(async () => {
  const dir = guestDir();
  const data = lab.addSwitch();
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_BOOT_DIRS: dir, VELA_ENGINE_LISTEN: lab.rootAddress, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
  for (let i = 0; i < 2; i++) {
    const { ns, address } = lab.addHost();
    namespaces.push(ns);
    lab.plug(ns, "eth1", data);
    lab.plug(ns, "eth2", data);
    hostAddr.push(address);
    nodes.push(
      await startNode({
        engineUrl: eng.url,
        token: TOKEN,
        name: `net-${i}`,
        netns: ns,
        env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_LISTEN: address, VELA_NODE_ADDRESS: address, VELA_NODE_BOOT_DIRS: dir },
      }),
    );
  }
  // Two agents registering under a loaded CI box: give them time, and say where each one stands.
  await until(
    "both hosts up",
    async () => {
      const hs = items<{ name: string; status: string }>(await eng.get("/hosts"), "host");
      if (hs.filter((h) => h.status === "up").length === 2) return hs;
      throw new Error(`hosts: ${JSON.stringify(hs.map((h) => `${h.name}=${h.status}`))}`);
    },
    120_000,
  );
  guest = { kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img") };
});
let guest: { kernel: string; initrd: string };

after(async () => {
  for (const v of vmIds) for (const pid of qemuOf(v)) process.kill(pid, "SIGKILL");
  for (const n of nodes) await n.stop();
  await eng?.stop();
  lab.close();
});

interface Ided {
  id: string;
  name: string;
}
const hostId = async (i: number) => (items<Ided>(await eng.get("/hosts"), "host").find((h) => h.name === `net-${i}`) as Ided).id;

async function fault(method: string, path: string, body: unknown, status: number, detail: RegExp): Promise<void> {
  const r = await eng.api(method, path, { body: body as object });
  assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
  assert.match(String((r.json as { detail?: string } | undefined)?.detail ?? r.text), detail);
}

let vmnet: Ided;
let vmnetProfile: Ided;

describe("logical networks", () => {
  test("every data center has ovirtmgmt, used by its clusters, with a profile", async () => {
    const dc = await firstDcId(eng);
    const nets = items<Ided & { usages: { usage: string[] } }>(await eng.get(`/datacenters/${dc}/networks`), "network");
    assert.deepEqual(nets.map((n) => n.name), ["ovirtmgmt"]);
    const cl = items<Ided & { required: boolean; usages: { usage: string[] } }>(await eng.get(`/clusters/${await firstClusterId(eng)}/networks`), "network");
    assert.equal(cl[0]?.name, "ovirtmgmt");
    assert.equal(String(cl[0]?.required), "true", "oVirt renders booleans as strings");
    assert.ok(cl[0]?.usages.usage.includes("management"));
    assert.ok(items<Ided>(await eng.get("/vnicprofiles"), "vnic_profile").some((p) => p.name === "ovirtmgmt"));
  });

  test("a VM network is added (with its profile) and attached to the cluster", async () => {
    const dc = await firstDcId(eng);
    vmnet = await eng.post<Ided>("/networks", { name: "vmnet", data_center: { id: dc }, mtu: 1500 });
    vmnetProfile = items<Ided>(await eng.get(`/networks/${vmnet.id}/vnicprofiles`), "vnic_profile")[0] as Ided;
    assert.equal(vmnetProfile.name, "vmnet");
    await eng.post(`/clusters/${await firstClusterId(eng)}/networks`, { id: vmnet.id, required: false });
    const dcNets = items<Ided>(await eng.get(`/datacenters/${dc}/networks`), "network").map((n) => n.name);
    assert.deepEqual(dcNets, ["ovirtmgmt", "vmnet"]);
  });

  test("bad input: VLAN id out of range, bad names, duplicates, unknown references", async () => {
    const dc = await firstDcId(eng);
    await fault("POST", "/networks", { name: "red", data_center: { id: dc }, vlan: { id: 4095 } }, 400, /vlan.id.*out of range/);
    await fault("POST", "/networks", { name: "red", data_center: { id: dc }, vlan: { id: -1 } }, 400, /out of range/);
    await fault("POST", "/networks", { name: "no spaces", data_center: { id: dc } }, 400, /names the bridge/);
    await fault("POST", "/networks", { name: "a-very-long-network-name", data_center: { id: dc } }, 400, /names the bridge/);
    await fault("POST", "/networks", { name: "vmnet", data_center: { id: dc } }, 409, /already used/);
    await fault("POST", "/networks", { name: "red", data_center: { id: "11111111-2222-3333-4444-555555555555" } }, 404, /Data Center/);
    await fault("POST", "/vnicprofiles", { name: "p", network: { id: "11111111-2222-3333-4444-555555555555" } }, 404, /Network/);
    await fault("DELETE", `/networks/${(items<Ided>(await eng.get("/networks"), "network").find((n) => n.name === "ovirtmgmt") as Ided).id}`, undefined, 409, /management network/);
  });
});

describe("host networks", () => {
  test("setupnetworks builds vmnet on both hosts; nics and attachments show it", async () => {
    for (let i = 0; i < 2; i++) {
      const h = await hostId(i);
      const r = await eng.api("POST", `/hosts/${h}/setupnetworks`, {
        body: {
          modified_network_attachments: {
            network_attachment: [
              {
                network: { id: vmnet.id },
                host_nic: { name: "eth1" },
                ip_address_assignments: { ip_address_assignment: [{ assignment_method: "static", ip: { address: `198.51.100.${11 + i}`, netmask: "255.255.255.0" } }] },
              },
            ],
          },
          check_connectivity: true,
          connectivity_timeout: 30,
        },
      });
      assert.equal(r.status, 200, r.text);
      const att = items<{ network: { id: string }; host_nic: { name: string } }>(await eng.get(`/hosts/${h}/networkattachments`), "network_attachment");
      assert.deepEqual(att.map((a) => [a.network.id, a.host_nic.name]), [[vmnet.id, "eth1"]]);
      const nics = items<{ name: string; ip?: { address: string }; network?: { id: string }; bridged: boolean }>(await eng.get(`/hosts/${h}/nics`), "host_nic");
      assert.deepEqual(nics.map((n) => n.name), ["eth0", "eth1", "eth2"]);
      const eth1 = nics.find((n) => n.name === "eth1");
      assert.equal(eth1?.network?.id, vmnet.id);
      assert.equal(eth1?.ip?.address, `198.51.100.${11 + i}`);
      assert.equal(nics.find((n) => n.name === "eth0")?.ip?.address, hostAddr[i]);
    }
    assert.ok(nsOk(namespaces[0] as string, "busybox", "ping", "-c", "1", "-W", "2", "198.51.100.12"), "the hosts reach each other over vmnet");
  });

  test("bad setupnetworks requests are refused and change nothing on the host", async () => {
    const h = await hostId(0);
    const ns = namespaces[0] as string;
    const before = hostState(ns);
    const att = (network: unknown, nic: string, extra: Record<string, unknown> = {}) => ({ modified_network_attachments: { network_attachment: [{ network, host_nic: { name: nic }, ...extra }] } });
    await fault("POST", `/hosts/${h}/setupnetworks`, att({ name: "nosuchnet" }, "eth1"), 404, /Network/);
    await fault("POST", `/hosts/${h}/setupnetworks`, att({ id: vmnet.id }, "eth9"), 400, /no NIC eth9/);
    await fault("POST", `/hosts/${h}/setupnetworks`, att({ id: vmnet.id }, "eth1;reboot"), 400, /not an interface name/);
    await fault("POST", `/hosts/${h}/setupnetworks`, att({ name: "ovirtmgmt" }, "eth0"), 409, /would cut the engine's connection/);
    await fault(
      "POST",
      `/hosts/${h}/setupnetworks`,
      att({ id: vmnet.id }, "eth1", { ip_address_assignments: { ip_address_assignment: { assignment_method: "static", ip: { address: "198.51.100.11", netmask: "255.0.255.0" } } } }),
      400,
      /not a netmask/,
    );
    const other = await eng.post<Ided>("/networks", { name: "other", data_center: { id: await firstDcId(eng) } });
    await fault("POST", `/hosts/${h}/setupnetworks`, att({ id: other.id }, "eth1"), 409, /not attached to cluster/);
    const clash = await eng.post<Ided>("/networks", { name: "eth2", data_center: { id: await firstDcId(eng) } });
    await eng.post(`/clusters/${await firstClusterId(eng)}/networks`, { id: clash.id, required: false });
    await fault("POST", `/hosts/${h}/setupnetworks`, att({ id: clash.id }, "eth1"), 409, /already has an interface named eth2/);
    await eng.api("DELETE", `/clusters/${await firstClusterId(eng)}/networks/${clash.id}`);
    await eng.api("DELETE", `/networks/${clash.id}`);
    const clash2 = await eng.post<Ided>("/networks", { name: "bondnet", data_center: { id: await firstDcId(eng) } });
    await eng.post(`/clusters/${await firstClusterId(eng)}/networks`, { id: clash2.id, required: false });
    const bond = (options: unknown, nics = ["eth2"]) => ({ host_nic: { name: "bond0", bonding: { options, slaves: { host_nic: nics.map((name) => ({ name })) } } } });
    await fault("POST", `/hosts/${h}/setupnetworks`, { modified_bonds: bond({ option: [{ name: "evil", value: "1" }] }) }, 400, /bond0: unknown option "evil=1"/);
    await fault("POST", `/hosts/${h}/setupnetworks`, { modified_bonds: bond({ option: { name: "mode", value: "4;reboot" } }) }, 400, /not a bonding option value/);
    await fault("POST", `/hosts/${h}/setupnetworks`, { modified_bonds: bond({ option: { name: "mode", value: 9 } }) }, 400, /bad value in "mode=9"/);
    await fault("POST", `/hosts/${h}/setupnetworks`, { modified_bonds: bond(undefined, ["eth1"]) }, 409, /eth1 is already a port of vmnet/);
    // a network on a bond made by the same request reaches the node as the bond's network
    await fault("POST", `/hosts/${h}/setupnetworks`, { modified_bonds: bond({ option: [{ name: "mode", value: 1 }, { name: "miimon", value: 100 }] }), ...att({ id: clash2.id }, "bond0") }, 400, /no bonding driver/);
    await eng.api("DELETE", `/clusters/${await firstClusterId(eng)}/networks/${clash2.id}`);
    await eng.api("DELETE", `/networks/${clash2.id}`);
    assert.equal(hostState(ns), before);
  });
});

describe("required networks", () => {
  test("a host missing a required network is non_operational with the reason; setting it up fixes that", async () => {
    const h = await hostId(1);
    const status = async () => eng.get<{ status: string; status_detail?: string }>(`/hosts/${h}`);
    const req = await eng.post<Ided>("/networks", { name: "req", data_center: { id: await firstDcId(eng) } });
    await eng.post(`/clusters/${await firstClusterId(eng)}/networks`, { id: req.id, required: true });
    try {
      let r = await eng.api("POST", `/hosts/${h}/deactivate`, { body: {} });
      assert.equal(r.status, 200, r.text);
      await until("host in maintenance", async () => ((await status()).status === "maintenance" ? true : undefined));
      r = await eng.api("POST", `/hosts/${h}/activate`, { body: {} });
      assert.equal(r.status, 200, r.text);
      const down = await until("host non_operational", async () => {
        const s = await status();
        return s.status === "non_operational" ? s : undefined;
      });
      assert.match(down.status_detail ?? "", /required network\(s\) req/);
      r = await eng.api("POST", `/hosts/${h}/setupnetworks`, { body: { modified_network_attachments: { network_attachment: { network: { id: req.id }, host_nic: { name: "eth2" } } } } });
      assert.equal(r.status, 200, r.text);
      r = await eng.api("POST", `/hosts/${h}/activate`, { body: {} });
      assert.equal(r.status, 200, r.text);
      await until("host up again", async () => ((await status()).status === "up" ? true : undefined));
    } finally {
      await eng.api("DELETE", `/clusters/${await firstClusterId(eng)}/networks/${req.id}`);
    }
  });
});

describe("VM NICs", () => {
  const vmNames = ["net-a", "net-b"];
  const vms: Ided[] = [];
  const nics: { id: string; mac: { address: string } }[] = [];

  test("NICs take MACs from the pool; bad NICs are refused", async () => {
    for (const [i, name] of vmNames.entries()) {
      const ping = i === 1 ? " vela.ping=198.51.100.21,90" : "";
      const vm = await eng.post<Ided>("/vms", {
        name,
        cluster: { name: "Default" },
        memory: 192 * 1024 * 1024,
        os: { kernel: guest.kernel, initrd: guest.initrd, cmdline: `console=ttyS0 panic=-1 quiet vela.ip=198.51.100.${21 + i}/24${ping}` },
      });
      vms.push(vm);
      vmIds.push(vm.id);
      nics.push(await eng.post(`/vms/${vm.id}/nics`, { name: "nic1", vnic_profile: { id: vmnetProfile.id } }));
    }
    const [a, b] = nics.map((n) => n.mac.address);
    const pools = items<{ name: string; ranges: { range: { from: string; to: string }[] } }>(await eng.get("/macpools"), "mac_pool");
    assert.deepEqual(pools.map((p) => [p.name, p.ranges.range[0]?.from, p.ranges.range[0]?.to]), [["Default", "56:6f:00:00:00:00", "56:6f:00:00:ff:ff"]]);
    assert.match(a as string, /^56:6f:00:00:/);
    assert.notEqual(a, b, "no MAC twice");
    const v = vms[0] as Ided;
    await fault("POST", `/vms/${v.id}/nics`, { name: "x", mac: { address: "zz:00:00:00:00:01" } }, 400, /not a MAC address/);
    await fault("POST", `/vms/${v.id}/nics`, { name: "x", mac: { address: "01:00:5e:00:00:01" } }, 400, /multicast/);
    await fault("POST", `/vms/${v.id}/nics`, { name: "x", mac: { address: b } }, 409, /already in use/);
    await fault("POST", `/vms/${v.id}/nics`, { name: "x", interface: "ne2k_pci" }, 400, /interface/);
    await fault("POST", `/vms/${v.id}/nics`, { name: "x", vnic_profile: { id: "11111111-2222-3333-4444-555555555555" } }, 404, /VnicProfile/);
    const otherProfile = items<Ided>(await eng.get("/vnicprofiles"), "vnic_profile").find((p) => p.name === "other") as Ided;
    await fault("POST", `/vms/${v.id}/nics`, { name: "x", vnic_profile: { id: otherProfile.id } }, 409, /not attached to the VM's cluster/);
    await fault("POST", `/vms/${v.id}/nics`, { name: "nic1" }, 409, /already has a NIC named nic1/);
  });

  test("two VMs on vmnet, on two hosts, ping each other", async () => {
    for (const [i, vm] of vms.entries()) {
      const r = await eng.api("POST", `/vms/${vm.id}/start`, { body: { host: { id: await hostId(i) } } });
      assert.equal(r.status, 200, r.text);
    }
    await until("VM B pings VM A", async () => (consoleOf(nodes[1] as Node, (vms[1] as Ided).id).includes("GUEST-PING-OK 198.51.100.21") ? true : undefined), 150_000, 500).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\nB console:\n${consoleOf(nodes[1] as Node, (vms[1] as Ided).id).slice(-800)}`);
    });
  });

  test("linked=false cuts the VM off live, linked=true restores it; unplug removes the NIC", async () => {
    const ns = namespaces[0] as string;
    const a = vms[0] as Ided;
    const nic = nics[0] as { id: string };
    const reaches = () => nsOk(ns, "busybox", "ping", "-c", "1", "-W", "2", "198.51.100.21");
    await until("VM A answers", async () => reaches() || undefined, 30_000, 500);
    let r = await eng.api("PUT", `/vms/${a.id}/nics/${nic.id}`, { body: { linked: false } });
    assert.equal(r.status, 200, r.text);
    assert.equal(reaches(), false);
    r = await eng.api("PUT", `/vms/${a.id}/nics/${nic.id}`, { body: { linked: true } });
    assert.equal(r.status, 200, r.text);
    await until("VM A answers again", async () => reaches() || undefined, 30_000, 500);
    await fault("DELETE", `/vms/${a.id}/nics/${nic.id}`, undefined, 409, /Unplug it first/);
    r = await eng.api("PUT", `/vms/${a.id}/nics/${nic.id}`, { body: { plugged: false } });
    assert.equal(r.status, 200, r.text);
    assert.equal(reaches(), false);
    assert.deepEqual(ip("-n", ns, "-o", "link", "show", "master", "vmnet").match(/^\d+: (\S+?)[:@]/gm)?.map((l) => l.replace(/^\d+: /, "").replace(/[:@]$/, "")), ["eth1"]);
    const mac = (nics[0] as { mac: { address: string } }).mac.address;
    r = await eng.api("DELETE", `/vms/${a.id}/nics/${nic.id}`);
    assert.equal(r.status, 200, r.text);
    // the MAC went back to the pool: the next NIC gets it again
    const again = await eng.post<{ mac: { address: string } }>(`/vms/${a.id}/nics`, { name: "nic2", vnic_profile: { id: vmnetProfile.id }, plugged: false });
    assert.equal(again.mac.address, mac);
  });
});
