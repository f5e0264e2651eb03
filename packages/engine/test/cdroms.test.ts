/**
 * CD-ROMs through the API with a real engine, node and QEMU: ISO files made by genisoimage on an
 * ISO domain and a data domain are listed at `/storagedomains/{id}/files` (files that are not ISO
 * images are not); `PUT /vms/{id}/cdroms/{id}` sets the medium for the next start, which the
 * started QEMU holds; with `current=true` it changes and ejects the running VM's medium live (the
 * node's query-block shows it) while the configured one stays. Bad input (unknown file, a file
 * that is not an ISO, path tricks, an unknown domain or CD-ROM id, current=true on a VM that is
 * down) is a fault and changes nothing.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { type Engine, addLocalDomain, firstDcId, hostUp, items, type Node, nodeCall, qemuOf, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "cdrom-token";
const ISO_DIR = "11111111-1111-1111-1111-111111111111";
const CD = "00000000-0000-0000-0000-000000000000";

let eng: Engine;
let node: Node;
let isoSd = "";
let dataSd = "";
let vmId = "";

function makeIso(path: string, volId: string): void {
  const src = mkdtempSync(join(tmpdir(), "vela-iso-src-"));
  writeFileSync(join(src, "README.TXT"), `disc ${volId}\n`);
  execFileSync("genisoimage", ["-quiet", "-output", path, "-volid", volId, "-rock", join(src, "README.TXT")]);
}

function isoDirOf(dir: string, sdId: string): string {
  const d = join(dir, sdId, "images", ISO_DIR);
  mkdirSync(d, { recursive: true });
  return d;
}

/** The medium in the running VM's drive as QEMU reports it (file name, or "" when empty). */
async function qemuMedium(): Promise<string> {
  const [st] = await nodeCall<{ cdrom?: { path: string } }[]>(node, "VM.getStats", { vmID: vmId });
  assert.ok(st.cdrom, `stats have a cdrom: ${JSON.stringify(st)}`);
  return st.cdrom.path ? basename(realpathSync(st.cdrom.path)) : "";
}

async function cdrom(current = false): Promise<{ file?: { id: string; storage_domain?: { id: string } } }> {
  return eng.get(`/vms/${vmId}/cdroms/${CD}${current ? "?current=true" : ""}`);
}

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "cdrom-host", env: { VELA_NODE_ACCEL: "tcg" } });
  const host = await hostUp(eng);
  const dcId = await firstDcId(eng);
  const dataDir = tempDir("vela-cd-data-");
  const isoDirRoot = tempDir("vela-cd-iso-");
  dataSd = await addLocalDomain(eng, dcId, host.id, "cd-data", dataDir);
  const sd = await eng.post<{ id: string }>("/storagedomains", { name: "cd-iso", type: "iso", host: { id: host.id }, storage: { type: "localfs", path: isoDirRoot } });
  isoSd = sd.id;
  const r = await until("attach the ISO domain", async () => {
    const res = await eng.api("POST", `/datacenters/${dcId}/storagedomains`, { body: { id: isoSd } });
    return res.status === 409 && /try again later/i.test(res.text) ? undefined : res;
  }, 60_000, 500);
  assert.equal(r.status, 201, r.text);
  await until("ISO domain active", async () => {
    const att = await eng.get<{ status: string }>(`/datacenters/${dcId}/storagedomains/${isoSd}`);
    return att.status === "active" ? true : undefined;
  }, 60_000, 300);
  makeIso(join(isoDirOf(isoDirRoot, isoSd), "install.iso"), "INSTALL");
  writeFileSync(join(isoDirOf(isoDirRoot, isoSd), "fake.iso"), Buffer.alloc(64 * 1024, 7));
  makeIso(join(isoDirOf(dataDir, dataSd), "tools.iso"), "TOOLS");
  const vm = await eng.post<{ id: string }>("/vms", { name: "cdrom-vm", cluster: { name: "Default" }, memory: 64 * 2 ** 20 });
  vmId = vm.id;
});

after(async () => {
  for (const pid of qemuOf(vmId)) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

test("a domain's files are its ISO images, listed by a host", async () => {
  const iso = items<{ id: string; name: string; type: string }>(await eng.get(`/storagedomains/${isoSd}/files`), "file");
  assert.deepEqual(iso.map((f) => [f.id, f.name, f.type]), [["install.iso", "install.iso", "iso"]]);
  const data = items<{ id: string }>(await eng.get(`/storagedomains/${dataSd}/files`), "file");
  assert.deepEqual(data.map((f) => f.id), ["tools.iso"]);
  const one = await eng.get<{ id: string; storage_domain: { id: string } }>(`/storagedomains/${isoSd}/files/install.iso`);
  assert.equal(one.storage_domain.id, isoSd);
  assert.equal((await eng.api("GET", `/storagedomains/${isoSd}/files/fake.iso`)).status, 404);
  assert.equal((await eng.api("GET", `/storagedomains/${isoSd}/files/..%2Fx.iso`)).status, 400);
  const links = (await eng.get<{ link: { rel: string }[] }>(`/storagedomains/${isoSd}`)).link.map((l) => l.rel);
  assert.ok(links.includes("files"), `links: ${links}`);
});

test("the configured medium is what the started VM holds", async () => {
  assert.equal((await cdrom()).file, undefined, "a new VM's drive is empty");
  const r = await eng.api("PUT", `/vms/${vmId}/cdroms/${CD}`, { body: { file: { id: "install.iso" } } });
  assert.equal(r.status, 200, r.text);
  const cd = await cdrom();
  assert.equal(cd.file?.id, "install.iso");
  assert.equal(cd.file?.storage_domain?.id, isoSd, "found on the ISO domain");
  const xml = await eng.api("GET", `/vms/${vmId}/cdroms`, { accept: "xml" });
  assert.match(xml.text, /<cdrom href="[^"]+" id="0{8}-0{4}-0{4}-0{4}-0{12}"><file id="install.iso">/);
  await eng.post(`/vms/${vmId}/start`, {});
  await until("VM up", async () => ((await eng.get<{ status: string }>(`/vms/${vmId}`)).status === "up" ? true : undefined), 60_000, 200);
  assert.equal(await until("medium reported", async () => (await qemuMedium()) || undefined), "install.iso");
  assert.equal((await cdrom(true)).file?.id, "install.iso", "current = configured at start");
});

test("current=true changes and ejects the running VM's medium live; the configured one stays", async () => {
  let r = await eng.api("PUT", `/vms/${vmId}/cdroms/${CD}?current=true`, { body: { file: { id: "tools.iso", storage_domain: { id: dataSd } } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(await qemuMedium(), "tools.iso");
  assert.equal((await cdrom(true)).file?.id, "tools.iso");
  assert.equal((await cdrom()).file?.id, "install.iso", "configuration unchanged");
  r = await eng.api("PUT", `/vms/${vmId}/cdroms/${CD}?current=true`, { body: "<cdrom><file id=\"\"/></cdrom>" });
  assert.equal(r.status, 200, r.text);
  assert.equal(await qemuMedium(), "", "ejected");
  assert.equal((await cdrom(true)).file, undefined);
  r = await eng.api("PUT", `/vms/${vmId}/cdroms/${CD}?current=true`, { body: { file: { id: "install.iso" } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(await qemuMedium(), "install.iso");
});

test("bad CD-ROM input is a fault and changes neither the medium nor the configuration", async () => {
  const bad: [string, string, unknown, number][] = [
    ["an unknown file", "?current=true", { file: { id: "nope.iso" } }, 400],
    ["a file that is not an ISO image", "?current=true", { file: { id: "fake.iso" } }, 400],
    ["a file of another domain than named", "?current=true", { file: { id: "install.iso", storage_domain: { id: dataSd } } }, 400],
    ["a parent-directory path", "?current=true", { file: { id: "../install.iso" } }, 400],
    ["a path", "", { file: { id: `${ISO_DIR}/install.iso` } }, 400],
    ["an absolute path", "", { file: { id: "/etc/passwd" } }, 400],
    ["an unknown domain", "", { file: { id: "install.iso", storage_domain: { id: "6f0a9a3e-3d7c-4c6e-9a3b-2f1e0d9c8b7a" } } }, 400],
    ["a domain id that is not a UUID", "", { file: { id: "install.iso", storage_domain: { id: "../../x" } } }, 400],
    ["no file", "", {}, 400],
  ];
  for (const [what, query, body, status] of bad) {
    const r = await eng.api("PUT", `/vms/${vmId}/cdroms/${CD}${query}`, { body: body as object });
    assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
    assert.ok(r.json?.reason && r.json?.detail, `${what}: oVirt fault shape: ${r.text}`);
    assert.equal(await qemuMedium(), "install.iso", `${what}: medium unchanged`);
    assert.equal((await cdrom()).file?.id, "install.iso", `${what}: configuration unchanged`);
  }
  const other = await eng.api("PUT", `/vms/${vmId}/cdroms/6f0a9a3e-3d7c-4c6e-9a3b-2f1e0d9c8b7a`, { body: { file: { id: "tools.iso" } } });
  assert.equal(other.status, 404, other.text);
  await eng.post(`/vms/${vmId}/stop`, {});
  await until("VM down", async () => ((await eng.get<{ status: string }>(`/vms/${vmId}`)).status === "down" ? true : undefined), 60_000, 200);
  const down = await eng.api("PUT", `/vms/${vmId}/cdroms/${CD}?current=true`, { body: { file: { id: "tools.iso" } } });
  assert.equal(down.status, 409, `current=true on a VM that is down: ${down.text}`);
  assert.equal((await cdrom()).file?.id, "install.iso");
});
