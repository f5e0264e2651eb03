/**
 * Image transfers (oVirt's /imagetransfers) with a real node and qemu-img: uploads of a qcow2 and
 * a raw image over imageio's HTTP protocol (through the engine's proxy_url and straight to the
 * host's transfer_url), downloads compared byte for byte, zero extents and zeroing by punching
 * holes (what ovirt-imageio's client asks), progress in `transferred` and /jobs, and refusals
 * (bad bodies, unknown disks, wrong tickets and directions, ranges past the end, uploads that are
 * not images, inactivity) that leave the disk as it was and nothing behind; the proxy keeps its
 * connections to the host alive across ranges.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { clientTls } from "./tls.js";
import { addLocalDomain, type Engine, firstClusterId, firstDcId, hostUp, items, type Node, qemuOf, startEngine, startNode, tempDir, until } from "./support.js";

const run = promisify(execFile);
const TOKEN = "xfer-token";
const MiB = 2 ** 20;
const NOPE = "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
let eng: Engine;
let node: Node;
const dir = tempDir("vela-xfer-sd-");
const work = tempDir("vela-xfer-files-");
let sd = "";
/** VMs a test started: their QEMU is killed at the end whatever happened (VMs outlive agents). */
const vmIds: string[] = [];

interface Disk {
  id: string;
  image_id: string;
  status: string;
  actual_size: string;
}
interface Transfer {
  id: string;
  phase: string;
  transferred?: string;
  transfer_url?: string;
  proxy_url?: string;
  description?: string;
  direction: string;
  format: string;
}

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "xfer-host", env: { VELA_NODE_ACCEL: "tcg" } });
  const h = await hostUp(eng);
  sd = await addLocalDomain(eng, await firstDcId(eng), h.id, "xfer-sd", dir);
});

after(async () => {
  for (const id of vmIds) for (const pid of qemuOf(id)) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

async function newDisk(name: string, size: number, format: "cow" | "raw"): Promise<Disk> {
  const d = await eng.post<Disk>("/disks", { name, provisioned_size: size, format, sparse: true, storage_domains: { storage_domain: [{ id: sd }] } });
  return until(`disk ${name} ok`, async () => {
    const g = await eng.get<Disk>(`/disks/${d.id}`);
    return g.status === "ok" ? g : undefined;
  });
}

function volPath(d: Disk): string {
  return join(dir, sd, "images", d.id, d.image_id);
}

async function transfer(id: string): Promise<Transfer> {
  return eng.get<Transfer>(`/imagetransfers/${id}`);
}

/** Starts a transfer and waits until its ticket serves data. */
async function start(body: Record<string, unknown>): Promise<Transfer> {
  const r = await eng.api("POST", "/imagetransfers", { body });
  assert.equal(r.status, 201, r.text);
  const t = r.json as unknown as Transfer;
  return until(`transfer ${t.id} transferring`, async () => {
    const g = await transfer(t.id);
    if (g.phase === "finished_failure") throw new Error(`transfer failed: ${JSON.stringify(g)}`);
    return g.phase === "transferring" ? g : undefined;
  });
}

async function finished(id: string): Promise<Transfer> {
  return until(`transfer ${id} finished`, async () => {
    const g = await transfer(id);
    return g.phase.startsWith("finished_") ? g : undefined;
  });
}

/** PUT of one range through fetch (the proxy, on the engine's origin). */
async function put(url: string, data: Buffer, offset: number, flush = true): Promise<Response> {
  return fetch(`${url}${flush ? "" : "?flush=n"}`, {
    method: "PUT",
    headers: { "content-range": `bytes ${offset}-${offset + data.length - 1}/*` },
    body: data,
  });
}

/** Reads a whole image through `url` in ranges of `chunk` bytes. */
async function download(url: string, size: number, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; off < size; off += chunk) {
    const end = Math.min(size, off + chunk) - 1;
    const r = await fetch(url, { headers: { range: `bytes=${off}-${end}` } });
    assert.equal(r.status, 206, await r.clone().text());
    parts.push(Buffer.from(await r.arrayBuffer()));
  }
  return Buffer.concat(parts);
}

/** A request straight to the host's data path, with the harness's client certificate. */
function nodeRequest(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((res, rej) => {
    const req = httpsRequest(url, { method, headers: { ...headers, ...(body ? { "content-length": String(body.length) } : {}) }, agent: false, ...clientTls() }, (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      r.on("end", () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks) }));
      r.on("error", rej);
    });
    req.on("error", rej);
    req.end(body);
  });
}

function stagingFiles(): string[] {
  const d = join(node.runDir, "transfers");
  return existsSync(d) ? readdirSync(d) : [];
}

/** A 16 MiB qcow2 with two written patterns, and its raw guest data. */
function makeQcow2(name: string): { file: string; raw: Buffer } {
  const file = join(work, `${name}.qcow2`);
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", file, String(16 * MiB)]);
  execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 0 1M", "-c", "write -P 0x5c 9M 512k", file], { stdio: "pipe" });
  const rawFile = join(work, `${name}.raw`);
  execFileSync("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", file, rawFile]);
  return { file, raw: readFileSync(rawFile) };
}

describe("uploads and downloads", () => {
  test("a qcow2 image uploaded through proxy_url in ranges lands in the disk; progress, lock and job are visible; a raw download gives the guest data back", async () => {
    const disk = await newDisk("up-qcow2", 16 * MiB, "cow");
    const img = makeQcow2("up");
    const bytes = readFileSync(img.file);
    const t = await start({ disk: { id: disk.id }, direction: "upload", format: "cow" });
    assert.ok(t.proxy_url?.startsWith(eng.url), `proxy_url on the engine's origin: ${t.proxy_url}`);
    assert.match(t.transfer_url ?? "", /^https:\/\/.+\/images\/[0-9a-f-]{36}$/);
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "locked", "the transfer holds the disk locked");

    const opts = await fetch(t.proxy_url as string, { method: "OPTIONS" });
    assert.equal(opts.status, 200);
    const features = (await opts.json()) as { features: string[] };
    assert.deepEqual(features.features.sort(), ["extents", "flush", "zero"]);

    const half = Math.floor(bytes.length / 2);
    const r1 = await put(t.proxy_url as string, bytes.subarray(0, half), 0, false);
    assert.equal(r1.status, 200, await r1.text());
    // Progress: the engine reads the host's figure while the transfer runs.
    await until("transferred shows the first range", async () => (Number((await transfer(t.id)).transferred ?? 0) >= half ? true : undefined));
    const job = items<{ id: string; description: string; status: string }>((await eng.api("GET", "/jobs")).json, "job").find((j) => j.description.includes("up-qcow2"));
    assert.ok(job, "the transfer is a job");
    assert.equal(job.status, "started");
    const r2 = await put(t.proxy_url as string, bytes.subarray(half), half, false);
    assert.equal(r2.status, 200, await r2.text());
    const fl = await fetch(t.proxy_url as string, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ op: "flush" }) });
    assert.equal(fl.status, 200);

    const fin = await eng.api("POST", `/imagetransfers/${t.id}/finalize`, { body: {} });
    assert.equal(fin.status, 200, fin.text);
    const done = await finished(t.id);
    assert.equal(done.phase, "finished_success", JSON.stringify(done));
    assert.equal(Number(done.transferred), bytes.length);
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok");
    execFileSync("qemu-img", ["compare", "-f", "qcow2", "-F", "qcow2", img.file, volPath(disk)]);
    assert.deepEqual(stagingFiles(), [], "no staging data left on the host");
    const steps = items<{ status: string; progress: string }>((await eng.api("GET", `/jobs/${job.id}/steps`)).json, "step");
    assert.ok(steps.length >= 2 && steps.every((s) => s.status === "finished" && Number(s.progress) === 100), JSON.stringify(steps));
    assert.equal((await eng.get<{ status: string }>(`/jobs/${job.id}`)).status, "finished");

    // Download it back as guest data (format raw), in ranges.
    const d = await start({ disk: { id: disk.id }, direction: "download", format: "raw" });
    const got = await download(d.proxy_url as string, 16 * MiB, 3 * MiB);
    assert.ok(got.equals(img.raw), "the downloaded guest data equals the uploaded image's");
    const past = await fetch(d.proxy_url as string, { headers: { range: `bytes=${16 * MiB}-${16 * MiB + 10}` } });
    assert.equal(past.status, 416, "a range past the end");
    const wrongWay = await put(d.proxy_url as string, Buffer.alloc(512), 0);
    assert.equal(wrongWay.status, 403, "no writes through a download ticket");
    assert.equal((await eng.api("POST", `/imagetransfers/${d.id}/finalize`, { body: {} })).status, 200);
    assert.equal((await finished(d.id)).phase, "finished_success");
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok");
    assert.deepEqual(stagingFiles(), []);
  });

  test("a raw image uploaded straight to the host's transfer_url (zero op included) and downloaded back byte for byte", async () => {
    const size = 8 * MiB;
    const disk = await newDisk("up-raw", size, "raw");
    const data = randomBytes(size);
    data.fill(0, 2 * MiB, 3 * MiB);
    const t = await start({ disk: { id: disk.id }, direction: "upload" });
    assert.equal(t.format, "raw", "a raw disk's transfer format defaults to raw");
    const url = t.transfer_url as string;
    for (const [off, len] of [
      [0, 2 * MiB],
      [3 * MiB, 5 * MiB],
    ] as const) {
      const r = await nodeRequest(url, "PUT", { "content-range": `bytes ${off}-${off + len - 1}/*` }, data.subarray(off, off + len));
      assert.equal(r.status, 200, r.body.toString());
    }
    const z = await nodeRequest(url, "PATCH", { "content-type": "application/json" }, Buffer.from(JSON.stringify({ op: "zero", offset: 2 * MiB, size: MiB, flush: true })));
    assert.equal(z.status, 200, z.body.toString());
    const beyond = await nodeRequest(url, "PUT", { "content-range": `bytes ${size}-${size + 511}/*` }, Buffer.alloc(512));
    assert.equal(beyond.status, 416, "a write past the disk's end");
    await eng.post(`/imagetransfers/${t.id}/finalize`, {});
    assert.equal((await finished(t.id)).phase, "finished_success");
    assert.ok(readFileSync(volPath(disk)).equals(data), "the volume holds the uploaded bytes");

    const d = await start({ disk: { id: disk.id }, direction: "download" });
    const got = await nodeRequest(d.transfer_url as string, "GET", {});
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(data), "downloaded bytes equal the upload");
    await eng.post(`/imagetransfers/${d.id}/cancel`, {});
    assert.equal((await finished(d.id)).phase, "finished_failure");
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok", "a download's end gives the disk back");
  });
});

describe("guest data into a qcow2 disk", () => {
  test("format raw (what the SDK's upload_disk sends) into a cow disk: OPTIONS gives the virtual size, the volume stays qcow2 with the same guest data", async () => {
    const disk = await newDisk("raw-into-cow", 16 * MiB, "cow");
    const img = makeQcow2("guest");
    const t = await start({ disk: { id: disk.id }, format: "raw" });
    const opts = (await (await fetch(t.proxy_url as string, { method: "OPTIONS" })).json()) as { transfer_format?: string; virtual_size?: number };
    assert.equal(opts.transfer_format, "raw");
    assert.equal(opts.virtual_size, 16 * MiB);
    // Data ranges as a sparse-aware client sends them, the zero range as a PATCH.
    for (const [off, len] of [
      [0, MiB],
      [9 * MiB, MiB / 2],
    ] as const) {
      assert.equal((await put(`${t.proxy_url}`, img.raw.subarray(off, off + len), off, false)).status, 200);
    }
    const z = await fetch(t.proxy_url as string, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ op: "zero", offset: MiB, size: 8 * MiB }) });
    assert.equal(z.status, 200, await z.text());
    await eng.post(`/imagetransfers/${t.id}/finalize`, {});
    assert.equal((await finished(t.id)).phase, "finished_success");
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", "-U", volPath(disk)], { encoding: "utf8" })) as { format: string };
    assert.equal(info.format, "qcow2");
    execFileSync("qemu-img", ["compare", "-f", "qcow2", "-F", "qcow2", img.file, volPath(disk)]);
  });
});

describe("what ovirt-imageio's client asks", () => {
  interface Extent {
    start: number;
    length: number;
    zero: boolean;
    hole: boolean;
  }
  /** Data at [0,1M) and [20M,21M) of a 32 MiB disk; zeros (holes) elsewhere. */
  const layout = (size: number): Extent[] => [
    { start: 0, length: MiB, zero: false, hole: false },
    { start: MiB, length: 19 * MiB, zero: true, hole: true },
    { start: 20 * MiB, length: MiB, zero: false, hole: false },
    { start: 21 * MiB, length: size - 21 * MiB, zero: true, hole: true },
  ];

  test("OPTIONS lists extents; zeroing most of a raw upload punches holes instead of writing zeros; /extents reports the holes of the upload and of its download, through the proxy and on the host; other contexts are refused", async () => {
    const size = 32 * MiB;
    const disk = await newDisk("extents", size, "raw");
    const t = await start({ disk: { id: disk.id }, format: "raw" });
    const proxy = t.proxy_url as string;
    const opts = (await (await fetch(proxy, { method: "OPTIONS" })).json()) as { features: string[] };
    assert.deepEqual(opts.features.sort(), ["extents", "flush", "zero"]);
    const data = Buffer.alloc(size);
    data.fill(0x6b, 0, MiB);
    data.fill(0x21, 20 * MiB, 21 * MiB);
    for (const off of [0, 20 * MiB]) assert.equal((await put(proxy, data.subarray(off, off + MiB), off, false)).status, 200);
    // As the client zeroes the zero extents of its source: each a PATCH, the last one not flushed.
    for (const [offset, len] of [
      [MiB, 19 * MiB],
      [21 * MiB, size - 21 * MiB],
    ] as const) {
      const z = await fetch(proxy, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ op: "zero", offset, size: len, flush: false }) });
      assert.equal(z.status, 200, await z.text());
    }
    const [staging] = stagingFiles();
    const allocated = statSync(join(node.runDir, "transfers", staging as string)).blocks * 512;
    assert.ok(allocated <= 4 * MiB, `zeroing wrote no zeros: ${allocated} bytes allocated in the staging file`);
    const ext = await fetch(`${proxy}/extents?context=zero`);
    assert.equal(ext.status, 200, await ext.clone().text());
    assert.deepEqual(await ext.json(), layout(size), "the upload's extents through the proxy");
    assert.equal((await fetch(`${proxy}/extents?context=dirty`)).status, 404, "no dirty extents outside a backup");
    assert.equal((await fetch(`${proxy}/extents?context=sideways`)).status, 400);
    assert.equal((await fetch(`${eng.url}/ovirt-engine/services/imageio/images/${NOPE}/extents`)).status, 403);
    await eng.post(`/imagetransfers/${t.id}/finalize`, {});
    assert.equal((await finished(t.id)).phase, "finished_success");
    assert.ok(readFileSync(volPath(disk)).equals(data), "the volume holds the data and zeros");

    const d = await start({ disk: { id: disk.id }, direction: "download" });
    const opt = (await (await fetch(d.proxy_url as string, { method: "OPTIONS" })).json()) as { features: string[] };
    assert.deepEqual(opt.features, ["extents"]);
    const onHost = await nodeRequest(`${d.transfer_url}/extents`, "GET", {});
    assert.equal(onHost.status, 200, onHost.body.toString());
    const got = JSON.parse(onHost.body.toString()) as Extent[];
    // The volume's holes survive the copy into the download's staging file.
    assert.deepEqual(got.map((e) => [e.start, e.length, e.zero]), layout(size).map((e) => [e.start, e.length, e.zero]), JSON.stringify(got));
    await eng.post(`/imagetransfers/${d.id}/finalize`, {});
    assert.equal((await finished(d.id)).phase, "finished_success");
    assert.deepEqual(stagingFiles(), []);
  });
});

/** The engine's open TCP connections to the node's data port, each by the engine's (ephemeral) port, from `ss`. */
async function engineToNode(): Promise<string[]> {
  const { stdout } = await run("ss", ["-tnH", "state", "established", `( dport = :${node.port} )`]);
  return stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/).at(-2) ?? "")
    .filter(Boolean)
    .map((a) => a.slice(a.lastIndexOf(":") + 1));
}

describe("the proxy's link to the host", () => {
  test("many ranged PUTs through proxy_url reuse the engine's connections to the host (keep-alive: no TLS handshake per range)", async () => {
    const size = 32 * MiB;
    const disk = await newDisk("reuse", size, "raw");
    const t = await start({ disk: { id: disk.id }, format: "raw" });
    const proxy = t.proxy_url as string;
    const data = randomBytes(2 * MiB);
    // The connections seen while the ranges are on their way, sampled until the last one is answered
    // (a closed connection may leave no trace: TLS sockets are often ended with a reset).
    const before = new Set(await engineToNode());
    const seen = new Set<string>();
    let sending = true;
    const sampler = (async () => {
      while (sending) for (const c of await engineToNode()) seen.add(c);
    })();
    try {
      for (let off = 0; off < size; off += data.length) assert.equal((await put(proxy, data, off, false)).status, 200);
    } finally {
      sending = false;
      await sampler;
    }
    // 16 ranges one after another: without keep-alive each is a connection of its own; with it the
    // pool's (shared with monitoring's calls) carry them, opening a new one at most now and then
    const opened = [...seen].filter((c) => !before.has(c));
    assert.ok(opened.length <= 3, `16 PUTs opened ${opened.length} new connections to the host: ${opened.join(" ")} (open before: ${[...before].join(" ")})`);
    await eng.post(`/imagetransfers/${t.id}/cancel`, {});
    await finished(t.id);
  });
});

describe("the SDK's shapes", () => {
  test("a disk added as upload_disk.py adds it (cow, sparse false, initial_size = the image's measured size) is made; the initial size, a block-storage hint, is ignored on a file domain", async () => {
    const r = await eng.api("POST", "/disks", {
      body: { name: "sdk-added", description: "Uploaded disk", content_type: "data", format: "cow", sparse: false, provisioned_size: 16 * MiB, initial_size: 1_310_720, storage_domains: { storage_domain: [{ id: sd }] } },
    });
    assert.equal(r.status, 201, r.text);
    const disk = await until("sdk-added ok", async () => {
      const g = await eng.get<Disk>(`/disks/${(r.json as unknown as Disk).id}`);
      if (g.status === "illegal") throw new Error(`disk creation failed: ${JSON.stringify(g)}`);
      return g.status === "ok" ? g : undefined;
    });
    assert.equal(JSON.parse(execFileSync("qemu-img", ["info", "--output=json", "-U", volPath(disk)], { encoding: "utf8" })).format, "qcow2");
  });

  test("XML as the Python SDK sends it (disk by attribute, format raw, timeout_policy, shallow); XML answers with phase and URLs", async () => {
    const disk = await newDisk("sdk-xml", 4 * MiB, "cow");
    const body = `<image_transfer><direction>upload</direction><format>raw</format><inactivity_timeout>120</inactivity_timeout><shallow>false</shallow><timeout_policy>legacy</timeout_policy><disk id="${disk.id}"/></image_transfer>`;
    const r = await eng.api("POST", "/imagetransfers", { body, accept: "xml" });
    assert.equal(r.status, 201, r.text);
    const id = /<image_transfer href="[^"]+" id="([^"]+)"/.exec(r.text)?.[1] as string;
    assert.ok(id, r.text);
    const x = await until("transferring (XML)", async () => {
      const g = await eng.api("GET", `/imagetransfers/${id}`, { accept: "xml" });
      return g.text.includes("<phase>transferring</phase>") ? g.text : undefined;
    });
    assert.match(x, /<transfer_url>https:\/\/[^<]+\/images\/[0-9a-f-]{36}<\/transfer_url>/);
    assert.match(x, /<proxy_url>https:\/\/[^<]+<\/proxy_url>/);
    assert.match(x, /<format>raw<\/format>/);
    assert.match(x, /<inactivity_timeout>120<\/inactivity_timeout>/);
    assert.match(x, /<timeout_policy>cancel<\/timeout_policy>/, "what Vela does to an inactive transfer");
    assert.match(x, new RegExp(`<disk href="/ovirt-engine/api/disks/${disk.id}" id="${disk.id}"/>`));
    const list = await eng.api("GET", "/imagetransfers", { accept: "xml" });
    assert.ok(list.text.includes(`id="${id}"`), list.text.slice(0, 500));
    assert.equal((await eng.api("POST", `/imagetransfers/${id}/cancel`, { body: "<action/>" })).status, 200);
    assert.equal((await finished(id)).phase, "finished_failure");
  });
});

describe("an ISO file", () => {
  test("a disk with content_type iso (what upload_disk.py declares for an ISO file) takes the ISO's bytes as a raw upload and says iso", async () => {
    const src = join(work, "iso-src");
    execFileSync("mkdir", ["-p", src]);
    execFileSync("sh", ["-c", `echo vela-iso > ${src}/README`]);
    const iso = join(work, "install.iso");
    execFileSync("genisoimage", ["-quiet", "-V", "VELAISO", "-o", iso, src]);
    const bytes = readFileSync(iso);
    const r = await eng.api("POST", "/disks", {
      body: { name: "install.iso", content_type: "iso", format: "raw", sparse: false, provisioned_size: bytes.length, initial_size: bytes.length, storage_domains: { storage_domain: [{ id: sd }] } },
    });
    assert.equal(r.status, 201, r.text);
    const disk = await until("iso disk ok", async () => {
      const g = await eng.get<Disk & { content_type: string }>(`/disks/${(r.json as unknown as Disk).id}`);
      return g.status === "ok" ? g : undefined;
    });
    assert.equal(disk.content_type, "iso");
    const meta = readFileSync(`${volPath(disk)}.meta`, "utf8");
    assert.match(meta, /^DISKTYPE=ISOF$/m, meta);
    const t = await start({ disk: { id: disk.id }, format: "raw" });
    assert.equal((await put(t.proxy_url as string, bytes, 0)).status, 200);
    await eng.post(`/imagetransfers/${t.id}/finalize`, {});
    assert.equal((await finished(t.id)).phase, "finished_success");
    const vol = readFileSync(volPath(disk));
    assert.ok(vol.subarray(0, bytes.length).equals(bytes), `the volume holds the ISO (volume ${vol.length} bytes, ISO ${bytes.length})`);
    assert.ok(vol.subarray(bytes.length).every((b) => b === 0), "then zeros up to the volume's rounded size");
    const bad = await eng.api("POST", "/disks", { body: { name: "x", content_type: "floppy", provisioned_size: MiB, storage_domains: { storage_domain: [{ id: sd }] } } });
    assert.equal(bad.status, 400, bad.text);
  });
});

describe("an uploaded disk in a VM", () => {
  test("a VM runs on the uploaded disk (QEMU opens its volume); while it runs, transfers of the disk are refused", async () => {
    const disk = await newDisk("vm-disk", 16 * MiB, "cow");
    const img = makeQcow2("vm");
    const t = await start({ disk: { id: disk.id }, format: "cow" });
    assert.equal((await put(t.proxy_url as string, readFileSync(img.file), 0)).status, 200);
    await eng.post(`/imagetransfers/${t.id}/finalize`, {});
    assert.equal((await finished(t.id)).phase, "finished_success");

    const vm = await eng.post<{ id: string }>("/vms", { name: "xfer-vm", cluster: { id: await firstClusterId(eng) }, memory: 64 * MiB });
    vmIds.push(vm.id);
    assert.equal((await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: disk.id }, interface: "virtio", bootable: true } })).status, 201);
    assert.equal((await eng.api("POST", `/vms/${vm.id}/start`, { body: {} })).status, 200);
    await until("VM up", async () => ((await eng.get<{ status: string }>(`/vms/${vm.id}`)).status === "up" ? true : undefined), 60_000);
    const pid = qemuOf(vm.id)[0];
    assert.ok(pid, "QEMU runs the VM");
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(disk.image_id), "QEMU opened the uploaded volume");
    for (const direction of ["upload", "download"]) {
      const r = await eng.api("POST", "/imagetransfers", { body: { disk: { id: disk.id }, direction } });
      assert.equal(r.status, 409, `${direction} of a running VM's disk: ${r.text}`);
      assert.match(String(r.json?.detail), /xfer-vm/);
    }
    assert.equal((await eng.api("POST", `/vms/${vm.id}/stop`, { body: {} })).status, 200);
    await until("VM down", async () => ((await eng.get<{ status: string }>(`/vms/${vm.id}`)).status === "down" ? true : undefined));
    execFileSync("qemu-img", ["compare", "-f", "qcow2", "-F", "qcow2", img.file, volPath(disk)]);
  });
});

describe("refusals", () => {
  test("bad bodies and unknown disks are faults; nothing is created", async () => {
    const disk = await newDisk("bad-body", 4 * MiB, "cow");
    const cases: [unknown, number][] = [
      [{}, 400],
      [{ disk: { id: "not-a-uuid" } }, 400],
      [{ disk: { id: NOPE } }, 404],
      [{ image: { id: NOPE } }, 404],
      [{ disk: { id: disk.id }, direction: "sideways" }, 400],
      [{ disk: { id: disk.id }, format: "vmdk" }, 400],
      [{ disk: { id: disk.id }, inactivity_timeout: 0 }, 400],
      [{ disk: { id: disk.id }, timeout_policy: "pause" }, 400],
      [{ disk: { id: disk.id }, timeout_policy: "sometimes" }, 400],
    ];
    for (const [body, status] of cases) {
      const r = await eng.api("POST", "/imagetransfers", { body: body as object });
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.status} ${r.text}`);
      assert.ok(r.json?.reason, `an oVirt fault: ${r.text}`);
    }
    assert.equal((await eng.api("GET", `/imagetransfers/${NOPE}`)).status, 404);
    assert.equal((await eng.api("POST", `/imagetransfers/${NOPE}/finalize`, { body: {} })).status, 404);
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok");
    const bogus = await fetch(`${eng.url}/ovirt-engine/services/imageio/images/${NOPE}`, { method: "PUT", body: Buffer.alloc(10) });
    assert.equal(bogus.status, 403, "an unknown ticket");
    const junk = await fetch(`${eng.url}/ovirt-engine/services/imageio/images/..%2f..%2fetc`, { method: "GET" });
    assert.ok(junk.status === 403 || junk.status === 404, `a malformed ticket: ${junk.status}`);
  });

  test("an upload that is not a qcow2 image is refused at finalize: the disk is as before and nothing is left behind", async () => {
    const disk = await newDisk("not-an-image", 4 * MiB, "cow");
    const before = readFileSync(volPath(disk));
    const t = await start({ disk: { id: disk.id }, format: "cow" });
    assert.equal((await put(t.proxy_url as string, randomBytes(MiB), 0)).status, 200);
    const second = await eng.api("POST", "/imagetransfers", { body: { disk: { id: disk.id } } });
    assert.equal(second.status, 409, `a second transfer of a locked disk: ${second.text}`);
    await eng.post(`/imagetransfers/${t.id}/finalize`, {});
    const done = await finished(t.id);
    assert.equal(done.phase, "finished_failure");
    assert.match(done.description ?? "", /not a valid qcow2 image/);
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok");
    assert.ok(readFileSync(volPath(disk)).equals(before), "the volume is unchanged");
    assert.deepEqual(stagingFiles(), []);
    assert.equal((await eng.api("POST", `/imagetransfers/${t.id}/finalize`, { body: {} })).status, 409, "a finished transfer cannot be finalized again");
  });

  test("a qcow2 with a backing file, or sent as raw, is refused", async () => {
    const base = join(work, "base.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", base, String(4 * MiB)]);
    const top = join(work, "top.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top]);
    for (const [file, format, why] of [
      [top, "cow", /backing file/],
      [base, "raw", /it is a qcow2 file/],
    ] as const) {
      const disk = await newDisk(`refused-${format}`, 4 * MiB, format === "cow" ? "cow" : "raw");
      const t = await start({ disk: { id: disk.id }, format });
      assert.equal((await put(t.proxy_url as string, readFileSync(file), 0)).status, 200);
      await eng.post(`/imagetransfers/${t.id}/finalize`, {});
      const done = await finished(t.id);
      assert.equal(done.phase, "finished_failure");
      assert.match(done.description ?? "", why);
      assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok");
    }
    assert.deepEqual(stagingFiles(), []);
  });

  test("an inactive client's transfer is cancelled by the system; its ticket then refuses data", async () => {
    const disk = await newDisk("idle", 4 * MiB, "raw");
    const r = await eng.api("POST", "/imagetransfers", { body: { disk: { id: disk.id }, inactivity_timeout: 1 } });
    assert.equal(r.status, 201, r.text);
    const t = await until("the ticket's URL", async () => {
      const g = await transfer((r.json as unknown as Transfer).id);
      return g.transfer_url || g.phase.startsWith("finished_") ? g : undefined;
    });
    const done = await finished(t.id);
    assert.equal(done.phase, "finished_failure");
    assert.match(done.description ?? "", /inactive/);
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok");
    const late = await nodeRequest(t.transfer_url as string, "PUT", {}, Buffer.alloc(512));
    assert.equal(late.status, 403, "an expired ticket");
    assert.deepEqual(stagingFiles(), []);
  });

  test("extend keeps a transfer alive; cancel ends it with the disk unchanged", async () => {
    const disk = await newDisk("extend", 4 * MiB, "raw");
    const t = await start({ disk: { id: disk.id }, inactivity_timeout: 3 });
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const r = await eng.api("POST", `/imagetransfers/${t.id}/extend`, { body: {} });
      assert.equal(r.status, 200, r.text);
    }
    assert.equal((await transfer(t.id)).phase, "transferring", "still running after the original timeout");
    assert.equal((await eng.api("POST", `/imagetransfers/${t.id}/cancel`, { body: {} })).status, 200);
    assert.equal((await finished(t.id)).phase, "finished_failure");
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok");
    assert.equal((await eng.api("POST", `/imagetransfers/${t.id}/cancel`, { body: {} })).status, 409);
  });
});

describe("engine restart", () => {
  test("a transfer the previous engine process left open is ended at start-up: the disk is given back, the host's ticket and data removed", async () => {
    const disk = await newDisk("restart", 4 * MiB, "raw");
    const t = await start({ disk: { id: disk.id } });
    assert.equal((await put(t.proxy_url as string, randomBytes(MiB), 0)).status, 200);
    assert.equal(stagingFiles().length, 1);
    await eng.stop();
    eng = await startEngine({ home: eng.home, port: eng.port, env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
    const done = await finished(t.id);
    assert.equal(done.phase, "finished_failure");
    assert.match(done.description ?? "", /engine restarted/);
    assert.equal((await eng.get<Disk>(`/disks/${disk.id}`)).status, "ok");
    await until("the host's staging data removed", async () => (stagingFiles().length === 0 ? true : undefined));
    const late = await nodeRequest(t.transfer_url as string, "PUT", {}, Buffer.alloc(512));
    assert.equal(late.status, 403, "the old ticket is gone");
  });
});
