/**
 * libgovirt — the oVirt client library of remote-viewer/virt-viewer, Debian's libgovirt2 through
 * GObject introspection (python3-gi) — against a real engine and node as `vela up` starts them
 * (test/scripts/govirt-journey.py): sign-in with HTTP Basic (a 401 challenge first, then a
 * persistent session cookie) and with an SSO bearer token, every collection libgovirt reads, the
 * links from a VM to its cluster, data center, hosts, storage domains and their disks, a search,
 * VM start and stop, and the console as remote-viewer asks for it (the running VM's display
 * address and VNC port, and a ticket). Admin view (`Filter: false`), and the user view
 * (libgovirt's default, `Filter: true`) of a user who holds UserRole on one VM only, as
 * remote-viewer signs such a user in.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROOT } from "@vela/cli/paths";
import { Rest, RestError } from "@vela/cli/rest";
import { type Started, up } from "@vela/cli/up";
import { freePort } from "@vela/node/test/harness";
import { findProcesses } from "./support/proc.js";
import { seedEnginePki } from "@vela/node/test/tls";

const SCRIPT = join(ROOT, "test/scripts/govirt-journey.py");
/** Debian's python3 (the one python3-gi is built for), whatever python3 comes first on PATH. */
const PYTHON = "/usr/bin/python3";
const VM = "govirt-vm";

let started: Started;
let rest: Rest;
let vmId = "";

before(async () => {
  const home = mkdtempSync(join(tmpdir(), "vela-govirt-"));
  seedEnginePki(home); // the run's test CA: fetch() and Rest trust it
  started = await up({ hosts: 1, home, enginePort: await freePort(), nodePort: await freePort() });
  rest = new Rest(started.info.url, started.info.user, started.info.password);
  // No disk and no kernel: the firmware idles, which is all a running VM with a console needs.
  vmId = (await rest.post<{ id: string }>("/vms", { name: VM, cluster: { name: "Default" }, template: { name: "Blank" }, memory: 128 * 2 ** 20 })).id;
});

after(async () => {
  for (const p of findProcesses("qemu-system", vmId || "none")) process.kill(p.pid, "SIGKILL");
  await started?.stop();
});

function journey(as?: { user: string; password: string }): Promise<{ steps: Record<string, Record<string, unknown>>; stderr: string }> {
  const { url } = started.info;
  const { user, password } = as ?? started.info;
  const view = as ? "user" : "admin";
  return new Promise((res, rej) => {
    execFile(PYTHON, [SCRIPT, url, user, password, VM, started.info.caFile ?? "", view], { timeout: 180_000, encoding: "utf8" }, (err, stdout, stderr) => {
      const steps: Record<string, Record<string, unknown>> = {};
      for (const line of stdout.split("\n").filter((l) => l.startsWith("{"))) {
        const o = JSON.parse(line) as { step: string };
        steps[o.step] = o;
      }
      if (err) rej(new Error(`govirt journey failed: ${err.message}\nstdout:\n${stdout}\nstderr:\n${stderr.slice(-3000)}`));
      else res({ steps, stderr });
    });
  });
}

test("libgovirt: Basic and SSO sign-in, every collection, links from a VM, start, console ticket, stop", async () => {
  const { steps } = await journey();
  const basic = steps.basic?.collections as Record<string, unknown>;
  assert.deepEqual(basic.clusters, ["Default"]);
  assert.deepEqual(basic.data_centers, ["Default"]);
  assert.deepEqual(basic.hosts, ["host1"]);
  assert.deepEqual(basic.storage_domains, ["local"]);
  assert.deepEqual(basic.vms, [VM]);
  // libgovirt 0.3.9 parses vm pools as <vmpools>; oVirt v4 and Vela send <vm_pools> (see the script).
  assert.equal(basic.vm_pools, "libgovirt expects <vmpools>");
  assert.deepEqual(steps.search?.vms, [VM]);
  assert.deepEqual(steps.links, {
    step: "links",
    cluster: "Default",
    data_center: "Default",
    hosts: ["host1"],
    storage_domains: ["local"],
    disks: { local: [] },
    dc_clusters: ["Default"],
  });
  const c = steps.console ?? {};
  assert.equal(c.host, "host1");
  assert.deepEqual(c.host_vms, [VM]);
  assert.equal(c.type, "vnc");
  assert.equal(typeof c.address, "string");
  assert.ok(Number(c.port) >= 5900 && Number(c.port) < 65536, `a VNC port: ${JSON.stringify(c)}`);
  assert.ok(Number(c.ticket_len) >= 8, `a ticket: ${JSON.stringify(c)}`);
  assert.ok(Number(c.expiry) > 0);
  assert.equal(steps.stopped?.state, "down");
  assert.deepEqual(steps.sso?.vms, [VM]);
});

test("libgovirt, user view: a UserRole user lists only their VM, finds it by search, starts it, gets its console, stops it", async () => {
  const user = { user: "govirt-user@internal", password: "Govirt-User-Secret-1" };
  const added = await rest.post<{ id: string }>("/users", { user_name: user.user, password: user.password });
  await rest.post(`/vms/${vmId}/permissions`, { role: { name: "UserRole" }, user: { id: added.id } });
  // a VM the user holds nothing on: the user view must not list it
  const other = await rest.post<{ id: string }>("/vms", { name: "govirt-other", cluster: { name: "Default" }, template: { name: "Blank" }, memory: 128 * 2 ** 20 });
  try {
    const { steps } = await journey(user);
    const seen = steps.basic?.collections as Record<string, unknown>;
    assert.deepEqual(seen.vms, [VM], `the user's VM list: ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.hosts, [], "hosts are not listed to a user holding a role on one VM");
    assert.deepEqual(steps.search?.vms, [VM]);
    const c = steps.console ?? {};
    assert.equal(c.type, "vnc");
    assert.ok(Number(c.port) >= 5900 && Number(c.port) < 65536, `a VNC port: ${JSON.stringify(c)}`);
    assert.ok(Number(c.ticket_len) >= 8, `a ticket: ${JSON.stringify(c)}`);
    assert.equal(steps.stopped?.state, "down");
    assert.deepEqual(steps.sso?.vms, [VM], "signed in with an SSO token, the user view lists the same");
  } finally {
    await rest.call("DELETE", `/vms/${other.id}`);
  }
});

test("PUT on a disk attachment of a down VM (what Ansible's ovirt_disk sends): interface, bootable, read_only; one bootable disk", async () => {
  const vm = await rest.call<{ id: string }>("POST", "/vms", { name: "att-vm", cluster: { name: "Default" }, template: { name: "Blank" }, memory: 64 * 2 ** 20 });
  const disks: string[] = [];
  for (const alias of ["att-a", "att-b"]) {
    const d = await rest.call<{ id: string }>("POST", "/disks", { name: alias, provisioned_size: 2 ** 20, format: "raw", sparse: true, storage_domains: { storage_domain: [{ name: "local" }] } });
    disks.push(d.id);
  }
  for (const id of disks) {
    for (let i = 0; (await rest.call<{ status: string }>("GET", `/disks/${id}`)).status !== "ok"; i++) {
      assert.ok(i < 300, `disk ${id} ok in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await rest.call("POST", `/vms/${vm.id}/diskattachments`, { disk: { id }, interface: "virtio", bootable: false, active: true });
  }
  const [a, b] = disks as [string, string];
  const put = (id: string, body: unknown) => rest.call<Record<string, string>>("PUT", `/vms/${vm.id}/diskattachments/${id}`, body);
  const got = await put(a, { interface: "virtio_scsi", bootable: "true", read_only: "true", disk: { id: a } });
  assert.deepEqual([got.interface, got.bootable, got.read_only], ["virtio_scsi", "true", "true"]);
  const again = await rest.call<Record<string, string>>("GET", `/vms/${vm.id}/diskattachments/${a}`);
  assert.deepEqual([again.interface, again.bootable, again.read_only], ["virtio_scsi", "true", "true"]);
  const refused = await put(b, { bootable: true }).then(() => undefined, (e: unknown) => e);
  assert.ok(refused instanceof RestError && refused.status === 409, `a second bootable disk: ${String(refused)}`);
  const bad = await put(b, { interface: "floppy" }).then(() => undefined, (e: unknown) => e);
  assert.ok(bad instanceof RestError && bad.status === 400, `a bad interface: ${String(bad)}`);
  assert.equal((await rest.call<Record<string, string>>("GET", `/vms/${vm.id}/diskattachments/${b}`)).bootable, "false", "unchanged");
  await rest.call("DELETE", `/vms/${vm.id}`);
});

test("follow=: a VM's disk attachments with their disks, and its cluster, inlined in one answer (JSON and XML); bad follow 400", async () => {
  const vm = await rest.call<{ id: string }>("POST", "/vms", { name: "follow-vm", cluster: { name: "Default" }, template: { name: "Blank" }, memory: 64 * 2 ** 20 });
  const d = await rest.call<{ id: string }>("POST", "/disks", { name: "follow-d", provisioned_size: 2 ** 20, format: "raw", sparse: true, storage_domains: { storage_domain: [{ name: "local" }] } });
  for (let i = 0; (await rest.call<{ status: string }>("GET", `/disks/${d.id}`)).status !== "ok"; i++) {
    assert.ok(i < 300, "disk ok in time");
    await new Promise((r) => setTimeout(r, 100));
  }
  await rest.call("POST", `/vms/${vm.id}/diskattachments`, { disk: { id: d.id }, interface: "virtio", bootable: true, active: true });
  type Followed = { disk_attachments: { disk_attachment: { disk: { alias: string; provisioned_size: string } }[] }; cluster: { name: string } };
  const one = await rest.call<Followed>("GET", `/vms/${vm.id}?follow=disk_attachments.disk,cluster`);
  assert.equal(one.disk_attachments.disk_attachment[0]?.disk.alias, "follow-d");
  assert.equal(one.disk_attachments.disk_attachment[0]?.disk.provisioned_size, String(2 ** 20));
  assert.equal(one.cluster.name, "Default");
  const list = await rest.call<{ vm: (Followed & { name: string })[] }>("GET", `/vms?search=name%3Dfollow-vm&follow=disk_attachments.disk`);
  assert.equal(list.vm[0]?.disk_attachments.disk_attachment[0]?.disk.alias, "follow-d");
  const { url, user, password } = started.info;
  const xml = await fetch(`${url}/ovirt-engine/api/vms/${vm.id}?follow=disk_attachments.disk`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` },
  }).then((r) => r.text());
  assert.match(xml, /<disk_attachments><disk_attachment [^>]*>.*<disk [^>]*>.*<alias>follow-d<\/alias>/s);
  const bad = await rest.call("GET", `/vms/${vm.id}?follow=${encodeURIComponent("../etc")}`).then(() => undefined, (e: unknown) => e);
  assert.ok(bad instanceof RestError && bad.status === 400, `bad follow: ${String(bad)}`);
  await rest.call("DELETE", `/vms/${vm.id}`);
});
