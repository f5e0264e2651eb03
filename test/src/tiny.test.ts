/**
 * The tiny template and cloud-init, through public interfaces: `vela up`'s machinery builds the
 * tiny image and registers it as the template `tiny` (a disk filled by POST /disks/{id}/import);
 * a VM made from it with an oVirt `initialization` starts with `use_cloud_init`, boots under TCG
 * from its own disk (SYSLINUX, no -kernel), reads the NoCloud seed the node wrote, takes the host
 * name, runs the custom script with its output on the serial console and lets root log in with
 * the password set by cloud-init. Cloud-init text that would break the seed is refused with a 400
 * fault and nothing changes; passwords appear in no log and not in the API.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { list, Rest, RestError } from "@vela/cli/rest";
import { up } from "@vela/cli/up";
import { freePort } from "@vela/node/test/harness";
import { findProcesses } from "./support/proc.js";
import { seedEnginePki } from "@vela/node/test/tls";
import { until } from "@vela/testkit";

const MiB = 2 ** 20;
const PASSWORD = 'Tiny"pa:ss \\w0rd';
let stop: () => Promise<void>;
let rest: Rest;
let auth = "";
let apiUrl = "";
let home: string;
/** The seed the node wrote for the first VM, kept for the NIC test below. */
let seedCopy = "";

before(async () => {
  process.env.VELA_NODE_ACCEL = "tcg";
  home = mkdtempSync(join(tmpdir(), "vela-tiny-"));
  seedCopy = join(home, "seed-copy.iso");
  seedEnginePki(home); // the run's test CA: fetch() trusts it
  const started = await up({ hosts: 1, home, enginePort: await freePort(), nodePort: await freePort(), tiny: true });
  stop = started.stop;
  rest = new Rest(started.info.url, started.info.user, started.info.password);
  auth = `Basic ${Buffer.from(`${started.info.user}:${started.info.password}`).toString("base64")}`;
  apiUrl = `${started.info.url}/ovirt-engine/api`;
});
after(async () => {
  for (const p of findProcesses("qemu-system", home)) process.kill(p.pid, "SIGKILL");
  await stop?.();
});

interface Vm {
  id: string;
  status: string;
  initialization?: Record<string, unknown>;
}

const vmDir = (id: string) => join(home, "nodes", "node-1", "vms", id);
const consoleText = (id: string) => {
  try {
    return readFileSync(join(vmDir(id), "console.log"), "utf8");
  } catch {
    return "";
  }
};

async function newVm(name: string, body: Record<string, unknown> = {}): Promise<Vm> {
  const vm = await rest.post<Vm>("/vms", { name, cluster: { name: "Default" }, template: { name: "tiny" }, ...body });
  await until(`VM ${name} down (disks made)`, async () => ((await rest.get<Vm>(`/vms/${vm.id}`)).status === "down" ? true : undefined), 60_000);
  return vm;
}

async function fault(p: Promise<unknown>): Promise<{ status: number; detail: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RestError) return { status: e.status, detail: String((e.body as { detail?: unknown })?.detail ?? JSON.stringify(e.body)) };
    throw e;
  }
  assert.fail("the request was accepted");
}

/** Types lines on the serial console socket; resolves with everything read once `want` appears. */
function serialSession(sock: string, steps: { wait: string; send: string }[], want: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((res, rej) => {
    const s = connect(sock);
    let buf = "";
    let i = 0;
    const timer = setTimeout(() => {
      s.destroy();
      rej(new Error(`serial: no '${i < steps.length ? steps[i]!.wait : want}' in ${timeoutMs} ms; got:\n${buf.slice(-2000)}`));
    }, timeoutMs);
    const poke = setInterval(() => i === 0 && s.write("\n"), 1000);
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
      while (i < steps.length && buf.includes(steps[i]!.wait)) {
        buf = buf.slice(buf.indexOf(steps[i]!.wait) + steps[i]!.wait.length);
        s.write(steps[i]!.send);
        i++;
      }
      if (i === steps.length && buf.includes(want)) {
        clearTimeout(timer);
        clearInterval(poke);
        s.end();
        res(buf);
      }
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      clearInterval(poke);
      rej(e);
    });
    s.write("\n");
  });
}

describe("tiny template with cloud-init", () => {
  test("vela up registers tiny; a VM from it boots from its disk with the seed: host name, script marker, password login, ACPI shutdown", async () => {
    const templates = list<{ name: string; status: string }>(await rest.get("/templates"), "template");
    assert.equal(templates.find((t) => t.name === "tiny")?.status, "ok", JSON.stringify(templates));

    const vm = await newVm("ci-one", {
      initialization: {
        host_name: "web-1.example.test",
        root_password: PASSWORD,
        authorized_ssh_keys: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRpbnkgdGVzdCBrZXk test@vela",
        custom_script: "#!/bin/sh\necho \"CUSTOM-$((6*7))-$(hostname)\"\nfor i in eth0 eth1; do ip -4 -o addr show dev $i 2>&1 | sed 's/^/ADDR /'; done\nsed 's/^/RESOLV /' /etc/resolv.conf\n",
        dns_servers: "192.0.2.53",
        dns_search: "example.test",
        nic_configurations: {
          nic_configuration: [
            { name: "eth0", boot_protocol: "static", ip: { address: "192.0.2.10", netmask: "255.255.255.0", gateway: "192.0.2.1" } },
            { name: "eth1", boot_protocol: "dhcp" },
          ],
        },
      },
    });
    const shown = await rest.get<Vm>(`/vms/${vm.id}`);
    assert.equal(shown.initialization?.host_name, "web-1.example.test");
    assert.ok(!JSON.stringify(shown).includes("pa:ss"), "the API never shows the password");

    const t0 = Date.now();
    await rest.post(`/vms/${vm.id}/start`, { use_cloud_init: true });
    const ready = (t: string) => t.includes("TINY-LOGIN-READY") && t.includes("TINY-CLOUD-INIT-DONE");
    const text = await until("the guest's login prompt and cloud-init done", () => (ready(consoleText(vm.id)) ? consoleText(vm.id) : undefined), 120_000, 100);
    const upMs = Date.now() - t0;
    assert.match(text, /TINY-CIDATA \/dev\/vd/);
    assert.match(text, /TINY-HOSTNAME web-1/);
    assert.match(text, /CUSTOM-42-web-1/, `the custom script's output is on the console:\n${text.slice(-2000)}`);
    assert.match(text, /TINY-SCRIPT-DONE 1 rc=0/);
    assert.match(text, /RESOLV nameserver 192\.0\.2\.53/);
    assert.match(text, /RESOLV search example\.test/);
    assert.match(text, /TINY-PASSWORD root/);
    assert.match(text, /TINY-SSH-KEY root/);
    assert.match(text, /TINY-CLOUD-INIT-DONE/);
    assert.ok(!text.includes("pa:ss"), "the password is not echoed on the console");
    // No -kernel: the guest booted from its disk's bootloader.
    const qemu = findProcesses("qemu-system", vm.id);
    assert.equal(qemu.length, 1);
    assert.ok(!qemu[0]!.argv.includes("-kernel"), qemu[0]!.argv.join(" "));
    // The seed is a packed ISO in the run dir; the loose files and vm.json hold no password.
    assert.ok(existsSync(join(vmDir(vm.id), "payload.iso")));
    assert.ok(!existsSync(join(vmDir(vm.id), "payload.d")));
    copyFileSync(join(vmDir(vm.id), "payload.iso"), seedCopy);
    assert.ok(!readFileSync(join(vmDir(vm.id), "vm.json"), "utf8").includes("pa:ss"));

    const session = await serialSession(
      join(vmDir(vm.id), "console.sock"),
      [
        { wait: "login:", send: "root\n" },
        { wait: "Password:", send: `${PASSWORD}\n` },
        { wait: "#", send: "echo LOGGED-IN-$((40+2)) $(hostname)\n" },
      ],
      "LOGGED-IN-42 web-1",
    );
    assert.match(session, /LOGGED-IN-42 web-1/);
    for (const f of readdirSync(join(home, "logs"))) {
      assert.ok(!readFileSync(join(home, "logs", f), "utf8").includes("pa:ss"), `log ${f} holds no password`);
    }
    console.log(`tiny VM: API start → login prompt after cloud-init: ${upMs} ms (TCG)`);

    // ACPI shutdown: the guest sees the power button and powers off (the engine only asks; a
    // guest that ignored it would stay up).
    await rest.post(`/vms/${vm.id}/shutdown`, {});
    await until("VM down after ACPI shutdown", async () => ((await rest.get<Vm>(`/vms/${vm.id}`)).status === "down" ? true : undefined), 60_000);
    await until("run dir (and seed) gone", () => (!existsSync(join(vmDir(vm.id), "payload.iso")) ? true : undefined), 10_000);
  });

  test("cloud-init text that would break the seed is refused with a 400 fault; nothing changes", async () => {
    const vm = await newVm("ci-bad", { initialization: { host_name: "good-name" } });
    const bad: [string, Record<string, unknown>][] = [
      ["host_name with a newline (YAML injection)", { host_name: "evil\nroot_password: x" }],
      ["host_name with a quote", { host_name: 'a"b' }],
      ["root_password with a newline", { root_password: "a\nb" }],
      ["root_password with NUL", { root_password: "a\u0000b" }],
      ["root_password with a YAML 1.1 line break (U+2028)", { root_password: "a\u2028b" }],
      ["root_password with a C1 control (NEL)", { root_password: "a\u0085b" }],
      ["custom_script with a BOM inside", { custom_script: "#!/bin/sh\necho \ufeff" }],
      ["custom_script with NUL", { custom_script: "#!/bin/sh\necho \u0000" }],
      ["user_name with a colon", { user_name: "root:x" }],
      ["not an SSH key", { authorized_ssh_keys: "hello: world" }],
      ["static NIC without address", { nic_configurations: { nic_configuration: [{ name: "eth0", boot_protocol: "static" }] } }],
      ["NIC name with a slash", { nic_configurations: { nic_configuration: [{ name: "eth0/x", boot_protocol: "dhcp" }] } }],
      ["bad gateway", { nic_configurations: { nic_configuration: [{ name: "eth0", boot_protocol: "static", ip: { address: "192.0.2.5", netmask: "24", gateway: "192.0.2.300" } }] } }],
      ["bad DNS server", { dns_servers: "192.0.2.1 ; rm" }],
    ];
    for (const [what, init] of bad) {
      const f = await fault(rest.call("PUT", `/vms/${vm.id}`, { initialization: init }));
      assert.equal(f.status, 400, `${what}: ${f.detail}`);
      assert.match(f.detail, /initialization/, `${what}: the fault names the field: ${f.detail}`);
      assert.equal((await rest.get<Vm>(`/vms/${vm.id}`)).initialization?.host_name, "good-name", `${what}: unchanged`);
      const s = await fault(rest.post(`/vms/${vm.id}/start`, { use_cloud_init: true, vm: { initialization: init } }));
      assert.equal(s.status, 400, `${what} on start: ${s.detail}`);
      assert.equal((await rest.get<Vm>(`/vms/${vm.id}`)).status, "down", `${what}: the VM did not start`);
    }
    const before = list<Vm>(await rest.get("/vms"), "vm").length;
    const a = await fault(rest.post("/vms", { name: "ci-bad2", cluster: { name: "Default" }, initialization: { host_name: "x\ny" } }));
    assert.equal(a.status, 400);
    assert.equal(list<Vm>(await rest.get("/vms"), "vm").length, before, "no VM was added");
    // use_cloud_init without any initialization
    const plain = await rest.post<Vm>("/vms", { name: "ci-none", cluster: { name: "Default" }, memory: 64 * MiB });
    const n = await fault(rest.post(`/vms/${plain.id}/start`, { use_cloud_init: true }));
    assert.equal(n.status, 400, n.detail);
  });

  test("disk import refuses files outside the nodes' import directories; the disk stays usable", async () => {
    const sd = list<{ id: string; name: string }>(await rest.get("/storagedomains"), "storage_domain").find((s) => s.name === "local")!;
    const disk = await rest.post<{ id: string }>("/disks", { name: "imp", provisioned_size: 64 * MiB, format: "cow", storage_domains: { storage_domain: [{ id: sd.id }] } });
    await until("disk ok", async () => ((await rest.get<{ status: string }>(`/disks/${disk.id}`)).status === "ok" ? true : undefined), 60_000);
    const outside = await fault(rest.post(`/disks/${disk.id}/import`, { path: "/etc/passwd", format: "raw", async: false }));
    assert.ok(outside.status >= 400, outside.detail);
    assert.match(outside.detail, /not inside an allowed import directory/);
    const dotdot = await fault(rest.post(`/disks/${disk.id}/import`, { path: `${home}/images/../../etc/passwd`, async: false }));
    assert.equal(dotdot.status, 400, dotdot.detail);
    const badFmt = await fault(rest.post(`/disks/${disk.id}/import`, { path: `${home}/images/tiny.qcow2`, format: "vmdk", async: false }));
    assert.equal(badFmt.status, 400, badFmt.detail);
    assert.equal((await rest.get<{ status: string }>(`/disks/${disk.id}`)).status, "ok");
  });

  // VMs get no NICs from the engine yet (RunVm sends none): the network part of the same seed is
  // proven on the tiny image itself, with a QEMU user-mode NIC as eth0.
  test("the tiny image applies the seed's static address to eth0 and DHCP on eth1", async () => {
    assert.ok(existsSync(seedCopy), "the first test kept the seed");
    const dir = mkdtempSync(join(home, "direct-"));
    const top = join(dir, "top.qcow2");
    const log = join(dir, "serial.log");
    await new Promise<void>((res, rej) =>
      spawn("qemu-img", ["create", "-q", "-f", "qcow2", "-b", join(home, "images", "tiny.qcow2"), "-F", "qcow2", top]).once("exit", (c) => (c === 0 ? res() : rej(new Error(`qemu-img ${c}`)))),
    );
    const q = spawn(
      "qemu-system-x86_64",
      ["-accel", "tcg", "-m", "256", "-nodefaults", "-display", "none", "-machine", "pc", "-serial", `file:${log}`,
        "-blockdev", JSON.stringify({ driver: "qcow2", "node-name": "d0", file: { driver: "file", filename: top } }),
        "-device", "virtio-blk-pci,drive=d0,bootindex=1",
        "-blockdev", JSON.stringify({ driver: "raw", "node-name": "s0", "read-only": true, file: { driver: "file", filename: seedCopy, "read-only": true } }),
        "-device", "virtio-blk-pci,drive=s0",
        "-nic", "user,model=virtio-net-pci",
        "-nic", "user,model=virtio-net-pci"],
      { stdio: "ignore" },
    );
    try {
      const text = await until("login prompt", () => {
        const t = existsSync(log) ? readFileSync(log, "utf8") : "";
        return t.includes("TINY-LOGIN-READY") && t.includes("TINY-CLOUD-INIT-DONE") ? t : undefined;
      }, 120_000, 100);
      assert.match(text, /TINY-NET-UP eth0 192\.0\.2\.10\/24/, text.slice(-2000));
      assert.match(text, /ADDR .*eth0\s+inet 192\.0\.2\.10\/24/, text.slice(-2000));
      // QEMU's user-mode network hands out 10.0.2.15 by DHCP
      assert.match(text, /TINY-NET-UP eth1 10\.0\.2\.15\/24/, text.slice(-2000));
    } finally {
      q.kill("SIGKILL");
    }
  });

  test("initialization in oVirt XML; a run-once initialization on start is what the seed holds", async () => {
    const xml = `<vm><name>ci-xml</name><cluster><name>Default</name></cluster><template><name>tiny</name></template>
      <initialization><host_name>xml-host</host_name><user_name>alice</user_name><root_password>pw-xml-1</root_password>
      <dns_servers>192.0.2.53 192.0.2.54</dns_servers>
      <nic_configurations><nic_configuration><name>eth0</name><boot_protocol>dhcp</boot_protocol></nic_configuration></nic_configurations>
      </initialization></vm>`;
    const res = await fetch(`${apiUrl}/vms`, { method: "POST", headers: { authorization: auth, "content-type": "application/xml", accept: "application/xml" }, body: xml });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    assert.match(text, /<host_name>xml-host<\/host_name>/);
    assert.ok(!text.includes("pw-xml-1"), "no password in the answer");
    const id = /<vm href="[^"]*" id="([^"]+)"/.exec(text)?.[1];
    assert.ok(id, text.slice(0, 300));
    await until("VM down", async () => ((await rest.get<Vm>(`/vms/${id}`)).status === "down" ? true : undefined), 60_000);
    const shown = await rest.get<Vm>(`/vms/${id}`);
    assert.equal(shown.initialization?.user_name, "alice");
    assert.deepEqual(shown.initialization?.nic_configurations, { nic_configuration: [{ name: "eth0", boot_protocol: "dhcp" }] });

    // Run once: this start's initialization replaces the stored one in the seed, and is not saved.
    await rest.post(`/vms/${id}/start`, { use_cloud_init: true, vm: { initialization: { host_name: "once-host", custom_script: "echo once" } } });
    const iso = join(vmDir(id!), "payload.iso");
    await until("seed written", () => (existsSync(iso) ? true : undefined), 30_000);
    const read = (f: string) => execFileSync("isoinfo", ["-R", "-x", `/${f}`, "-i", iso], { encoding: "utf8" });
    assert.match(read("meta-data"), /local-hostname: "once-host"/);
    const ud = read("user-data");
    assert.match(ud, /^Content-Type: multipart\/mixed; boundary="(==vela-[0-9a-f]+==)"/);
    assert.match(ud, /Content-Type: text\/x-shellscript[\s\S]*#!\/bin\/sh\necho once\n/);
    assert.ok(!ud.includes("alice"), "the stored initialization is not mixed in");
    assert.equal((await rest.get<Vm>(`/vms/${id}`)).initialization?.host_name, "xml-host", "run-once is not stored");
    await rest.post(`/vms/${id}/stop`, {});
    await until("VM down", async () => ((await rest.get<Vm>(`/vms/${id}`)).status === "down" ? true : undefined), 30_000);

    await until("the old seed gone", () => (!existsSync(iso) ? true : undefined), 10_000);
    // An update without root_password (as a client PUTs back what it read) keeps the password.
    await rest.call("PUT", `/vms/${id}`, { initialization: { ...shown.initialization, host_name: "xml-host2" } });
    await rest.post(`/vms/${id}/start`, {});
    await until("seed written", () => (existsSync(iso) ? true : undefined), 30_000);
    assert.match(read("meta-data"), /local-hostname: "xml-host2"/);
    assert.match(read("user-data"), /password: "pw-xml-1"/);
    await rest.post(`/vms/${id}/stop`, {});
    await until("VM down", async () => ((await rest.get<Vm>(`/vms/${id}`)).status === "down" ? true : undefined), 30_000);
    // An empty initialization clears it: the next start has no seed.
    await rest.call("PUT", `/vms/${id}`, { initialization: {} });
    assert.equal((await rest.get<Vm>(`/vms/${id}`)).initialization, undefined);
  });
});
