/**
 * VMs people can use, through the REST API of a `vela up` cluster alone: its host gets the
 * management network ovirtmgmt as a host-local bridge without uplink (the machine's own uplink is
 * never moved); two VMs from `tiny` with a NIC on ovirtmgmt and cloud-init static addresses boot,
 * one's custom script pings the other and its console output shows it; host, VM, NIC and disk
 * statistics carry real figures; events record user actions and state changes, newest first, with
 * `from` and `max` paging; an ACPI shutdown of a tiny VM finishes. Guest addresses are random in
 * 198.51.100.0/24 (several `vela up` on one machine share the ovirtmgmt bridge).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { list, Rest, RestError } from "@vela/cli/rest";
import { up } from "@vela/cli/up";
import { seedEnginePki } from "@vela/node/test/tls";
import { freePort } from "@vela/node/test/harness";
import { findProcesses } from "./support/proc.js";
import { until } from "@vela/testkit";
import { reserveAddress } from "@vela/testkit/netlab";

let stop: () => Promise<void>;
let rest: Rest;
let home: string;
let hostId = "";
/** The test's VMs (a, b), powered off at the end. */
const vms: { id: string; status: string }[] = [];
const run = randomBytes(3).toString("hex");
// Guests of every `vela up` on this machine share the ovirtmgmt bridge: addresses are reserved
// across test processes so two runs' guests never answer for each other.
const ipA = reserveAddress("198.51.100");
const ipB = reserveAddress("198.51.100");
const marker = `PING-OK-${run}`;

interface Vm {
  id: string;
  status: string;
}
interface Stat {
  name: string;
  kind: string;
  unit: string;
  values: { value: { datum: string }[] };
}

before(async () => {
  process.env.VELA_NODE_ACCEL = "tcg";
  home = mkdtempSync(join(tmpdir(), "vela-reach-"));
  seedEnginePki(home); // the run's test CA: fetch() and Rest trust it
  const started = await up({ hosts: 1, home, enginePort: await freePort(), nodePort: await freePort(), tiny: true });
  stop = started.stop;
  rest = new Rest(started.info.url, started.info.user, started.info.password);
  hostId = list<{ id: string }>(await rest.get("/hosts"), "host")[0]!.id;
});
after(async () => {
  // powered off through the API, so the node removes their taps from the shared ovirtmgmt bridge
  for (const v of vms) await rest.post(`/vms/${v.id}/stop`, {}).catch(() => undefined);
  await until("VMs down", async () => {
    for (const v of vms) if ((await rest.get<Vm>(`/vms/${v.id}`)).status !== "down") return undefined;
    return true;
  }, 30_000).catch(() => undefined);
  for (const p of findProcesses("qemu-system", home)) process.kill(p.pid, "SIGKILL");
  await stop?.();
});

const stats = async (path: string): Promise<Map<string, number>> => {
  const s = list<Stat>(await rest.get(path), "statistic");
  return new Map(s.map((x) => [x.name, Number(x.values.value[0]?.datum)]));
};

async function fault(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RestError) return e.status;
    throw e;
  }
  assert.fail("the request was accepted");
}

async function tinyVm(name: string, ip: string, script: string, profile: string): Promise<Vm> {
  const vm = await rest.post<Vm>("/vms", { name, cluster: { name: "Default" }, template: { name: "tiny" } });
  await until(`VM ${name} down (disks made)`, async () => ((await rest.get<Vm>(`/vms/${vm.id}`)).status === "down" ? true : undefined), 120_000);
  await rest.post(`/vms/${vm.id}/nics`, { name: "nic1", interface: "virtio", vnic_profile: { id: profile } });
  await rest.post(`/vms/${vm.id}/start`, {
    use_cloud_init: true,
    vm: {
      initialization: {
        host_name: name,
        custom_script: script,
        nic_configurations: { nic_configuration: [{ name: "eth0", on_boot: true, boot_protocol: "static", ip: { address: ip, netmask: "255.255.255.0", version: "v4" } }] },
      },
    },
  });
  return vm;
}

describe("VMs people can use", () => {
  test("the vela up host gets ovirtmgmt as a host-local bridge without uplink, through setupNetworks", async () => {
    const att = await until("ovirtmgmt attachment on the host", async () => {
      const as = list<{ network: { id: string }; host_nic?: unknown }>(await rest.get(`/hosts/${hostId}/networkattachments`), "network_attachment");
      return as.length > 0 ? as : undefined;
    }, 30_000);
    const mgmt = list<{ id: string; name: string }>(await rest.get("/networks"), "network").find((n) => n.name === "ovirtmgmt");
    assert.equal(att[0]?.network.id, mgmt?.id, JSON.stringify(att));
    assert.equal(att[0]?.host_nic, undefined, "no host NIC: the bridge has no uplink");
    const ports = JSON.parse(execFileSync("ip", ["-j", "-d", "link", "show", "master", "ovirtmgmt"], { encoding: "utf8" })) as { ifname: string; linkinfo?: { info_kind?: string } }[];
    assert.deepEqual(ports.filter((p) => p.linkinfo?.info_kind !== "tun").map((p) => p.ifname), [], "only VM taps are ports of the ovirtmgmt bridge");
  });

  test("two tiny VMs on ovirtmgmt with static cloud-init addresses: one pings the other (console output)", async () => {
    const profile = list<{ id: string; name: string }>(await rest.get("/vnicprofiles"), "vnic_profile").find((p) => p.name === "ovirtmgmt")!.id;
    vms.push(await tinyVm(`reach-a-${run}`, ipA, `echo READY-${run}`, profile));
    vms.push(await tinyVm(`reach-b-${run}`, ipB, `for i in $(seq 1 90); do ping -c1 -W1 ${ipA} >/dev/null 2>&1 && { echo ${marker}; break; }; sleep 1; done`, profile));
    let text = "";
    await until(`'${marker}' in VM b's console output`, async () => {
      text = String(await rest.get<unknown>(`/vms/${vms[1]!.id}/consoleoutput`));
      return text.includes(marker) ? true : undefined;
    }, 240_000, 1000).catch((e: Error) => assert.fail(`${e.message}; console tail: ${text.slice(-600)}`));
    for (const v of vms) assert.equal((await rest.get<Vm>(`/vms/${v.id}`)).status, "up");
  });

  test("statistics of the host, a VM, its NIC and its disk carry real figures", async () => {
    const h = await stats(`/hosts/${hostId}/statistics`);
    assert.ok((h.get("memory.total") ?? 0) > 0 && (h.get("memory.used") ?? 0) > 0 && (h.get("memory.free") ?? 0) > 0, JSON.stringify([...h]));
    assert.ok(["cpu.current.user", "cpu.current.system", "cpu.current.idle"].every((n) => h.has(n)));
    const a = vms[0]!;
    const vm = await until("VM CPU figures", async () => {
      const s = await stats(`/vms/${a.id}/statistics`);
      return (s.get("cpu.current.total") ?? 0) > 0 && (s.get("memory.used") ?? 0) > 0 ? s : undefined;
    }, 30_000, 500);
    assert.ok((vm.get("memory.installed") ?? 0) >= (vm.get("memory.used") ?? 0), JSON.stringify([...vm]));
    assert.equal(vm.get("cpu.current.total")?.toFixed(1), ((vm.get("cpu.current.guest") ?? 0) + (vm.get("cpu.current.hypervisor") ?? 0)).toFixed(1));
    const nic = list<{ id: string }>(await rest.get(`/vms/${a.id}/nics`), "nic")[0]!;
    const ns = await stats(`/vms/${a.id}/nics/${nic.id}/statistics`);
    assert.ok((ns.get("data.total.rx") ?? 0) > 0, `VM a received the pings: ${JSON.stringify([...ns])}`);
    const disk = list<{ id: string }>(await rest.get(`/vms/${a.id}/diskattachments`), "disk_attachment")[0]!;
    const ds = await stats(`/disks/${disk.id}/statistics`);
    assert.ok((ds.get("data.total.read") ?? 0) > 0, `the guest booted from its disk: ${JSON.stringify([...ds])}`);
    const raw = list<Stat>(await rest.get(`/hosts/${hostId}/statistics`), "statistic").find((s) => s.name === "memory.total");
    assert.deepEqual([raw?.kind, raw?.unit], ["gauge", "bytes"]);
  });

  test("statistics of unknown objects are 404 faults", async () => {
    assert.equal(await fault(rest.get(`/vms/${randomUUID()}/statistics`)), 404);
    assert.equal(await fault(rest.get(`/vms/${vms[0]!.id}/nics/${randomUUID()}/statistics`)), 404);
    assert.equal(await fault(rest.get("/hosts/not-an-id/statistics")), 404);
    assert.equal(await fault(rest.get(`/disks/${randomUUID()}/statistics`)), 404);
  });

  test("events record the starts and the VMs coming up, newest first, with from and max", async () => {
    type Ev = { id: string; code: string; severity: string; description: string; vm?: { id: string } };
    const all = list<Ev>(await rest.get("/events"), "event");
    const ids = all.map((e) => Number(e.id));
    assert.deepEqual(ids, [...ids].sort((x, y) => y - x), "newest first");
    for (const v of vms) {
      assert.ok(all.some((e) => e.code === "32" && e.vm?.id === v.id), `a run VM event (32) for ${v.id}: ${JSON.stringify(all.slice(0, 8))}`);
      assert.ok(all.some((e) => e.vm?.id === v.id && /is up/.test(e.description)), "an event for the VM coming up");
    }
    const one = list<Ev>(await rest.get("/events?max=1"), "event");
    assert.deepEqual(one.map((e) => e.id), [all[0]!.id]);
    const from = all[2]!.id;
    const newer = list<Ev>(await rest.get(`/events?from=${from}`), "event");
    assert.deepEqual(newer.map((e) => e.id), all.slice(0, 2).map((e) => e.id));
    assert.equal((await rest.get<Ev>(`/events/${all[0]!.id}`)).description, all[0]!.description);
    assert.equal(await fault(rest.get("/events?from=-1")), 400);
    assert.equal(await fault(rest.get("/events?from=1;drop")), 400);
    assert.equal(await fault(rest.get("/events/99999999")), 404);
    assert.equal(await fault(rest.get("/events/abc")), 404);
  });

  test("an ACPI shutdown of a tiny VM finishes; the shutdown and the VM down are events", async () => {
    const a = vms[0]!;
    const before = Number(list<{ id: string }>(await rest.get("/events?max=1"), "event")[0]?.id ?? 0);
    await rest.post(`/vms/${a.id}/shutdown`, {});
    await until("VM a down after the power button", async () => ((await rest.get<Vm>(`/vms/${a.id}`)).status === "down" ? true : undefined), 90_000, 500);
    const evs = list<{ code: string; vm?: { id: string } }>(await rest.get(`/events?from=${before}`), "event").filter((e) => e.vm?.id === a.id);
    assert.ok(evs.some((e) => e.code === "73"), `a shutdown event (73): ${JSON.stringify(evs)}`);
    assert.ok(evs.some((e) => e.code === "61"), `a VM down event (61): ${JSON.stringify(evs)}`);
    const s = await stats(`/vms/${a.id}/statistics`);
    assert.equal(s.get("cpu.current.total"), 0, "a down VM has no CPU figures");
  });
});
