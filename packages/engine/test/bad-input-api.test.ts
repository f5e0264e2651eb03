/**
 * The fuzz run's findings against the engine alone (issue 15): each reproducer now gets a 4xx in
 * oVirt's fault shape, quickly, and changes nothing. The findings that need a node (its refusals
 * as 400/404/409, oversized raw disks) are in test/src/bad-input.test.ts.
 */
import assert from "node:assert/strict";
import { connect } from "node:tls";
import { after, before, describe, test } from "node:test";
import { initialSizeProblem } from "@vela/protocol";
import { wildcardMatch } from "../src/api/search.js";
import { statusOfNodeCode } from "../src/errors/node-fault.js";
import { ErrorCodes } from "@vela/protocol";
import { type Engine, items, startEngine } from "./support.js";

let eng: Engine;
let vmId: string;

before(async () => {
  eng = await startEngine();
  const vm = await eng.post<{ id: string }>("/vms", { name: "bad-in-vm-with-a-rather-long-name-of-fifty-four-chars", cluster: { name: "Default" }, os: { kernel: "/boot/vmlinuz" } });
  vmId = vm.id;
});
after(async () => eng?.stop());

function assertJsonFault(r: { status: number; text: string; json?: Record<string, unknown> }, status: number, detail?: RegExp) {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json?.reason, "string", `a JSON fault: ${r.text}`);
  assert.equal(typeof r.json?.detail, "string", `a JSON fault: ${r.text}`);
  if (detail) assert.match(String(r.json?.detail), detail);
}

function assertXmlFault(text: string) {
  assert.match(text, /<fault><reason>[^<]+<\/reason><detail>[^<]*<\/detail><\/fault>/, text);
}

/** Sends raw bytes over TLS (the CA comes from NODE_EXTRA_CA_CERTS): for requests fetch() refuses to make. */
function raw(request: string): Promise<string> {
  return new Promise((res, rej) => {
    const s = connect({ port: eng.port, host: "127.0.0.1" });
    let out = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => (out += d));
    s.on("error", (e) => (out ? res(out) : rej(e)));
    s.on("close", () => res(out));
    s.once("secureConnect", () => s.write(request));
    setTimeout(() => s.end(), 2000).unref();
  });
}

describe("1: search wildcards", () => {
  test("matching is linear: 30 wildcards against a 54-character name answer in < 50 ms", async () => {
    const name = "bad-in-vm-with-a-rather-long-name-of-fifty-four-chars";
    const pattern = `${"*".repeat(30)}!`;
    let t0 = performance.now();
    assert.equal(wildcardMatch(pattern, name), false);
    const matchMs = performance.now() - t0;
    assert.ok(matchMs < 50, `the match alone took ${matchMs.toFixed(1)} ms`);
    // Through the API: the best of five against the best of five plain searches, so a loaded
    // machine's round trip is not counted as search time (the old regular expression took seconds).
    const best = async (search: string) => {
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 5; i++) {
        t0 = performance.now();
        const r = await eng.api("GET", `/vms?search=${encodeURIComponent(search)}`);
        min = Math.min(min, performance.now() - t0);
        assert.equal(r.status, 200, r.text);
        assert.equal(items(r.json, "vm").length, 0);
      }
      return min;
    };
    const plain = await best("name=nobody");
    const wild = await best(`name=${pattern}`);
    assert.ok(wild < plain + 50, `30-wildcard search took ${wild.toFixed(1)} ms, a plain one ${plain.toFixed(1)} ms`);
  });

  test("wildcardMatch keeps the semantics of `*`", () => {
    assert.ok(wildcardMatch("guest*", "guest1"));
    assert.ok(wildcardMatch("*st*", "guest1"));
    assert.ok(wildcardMatch("*", ""));
    assert.ok(wildcardMatch("a*b*c", "aXbYc"));
    assert.ok(!wildcardMatch("a*b*c", "aXbY"));
    assert.ok(!wildcardMatch("guest", "guest1"));
    assert.ok(wildcardMatch("GUEST*", "guest1", false));
    assert.ok(!wildcardMatch("GUEST*", "guest1", true));
    assert.ok(wildcardMatch("a.b", "a.b") && !wildcardMatch("a.b", "aXb"), "no regular-expression metacharacters");
    const t0 = performance.now();
    assert.ok(!wildcardMatch(`${"*a".repeat(500)}!`, "a".repeat(5000)));
    assert.ok(performance.now() - t0 < 200, "500 stars on 5000 characters stay fast");
  });

  test("a search longer than 1024 characters is a 400 fault", async () => {
    assertJsonFault(await eng.api("GET", `/vms?search=${encodeURIComponent(`name=${"x".repeat(2000)}`)}`), 400);
  });
});

describe("2: nesting depth", () => {
  test("deeply nested JSON is a 400 fault, not a stack overflow", async () => {
    const deep = `{"a":${"[".repeat(60000)}${"]".repeat(60000)}}`;
    assertJsonFault(await eng.api("POST", "/datacenters", { body: deep }), 400, /nested deeper/);
  });

  test("deeply nested XML is a 400 fault", async () => {
    const deep = `<data_center>${"<a>".repeat(20000)}${"</a>".repeat(20000)}</data_center>`;
    const r = await eng.api("POST", "/datacenters", { body: deep, accept: "xml" });
    assert.equal(r.status, 400, r.text);
    assertXmlFault(r.text);
  });

  test("ordinary nesting still works", async () => {
    const r = await eng.api("POST", "/datacenters", { body: { name: "nest-ok", description: "[{\"x\":[1]}]", local: true } });
    assert.equal(r.status, 201, r.text);
    assert.equal((await eng.api("DELETE", `/datacenters/${(r.json as { id: string }).id}`)).status, 200);
  });
});

describe("3: media types", () => {
  test("a form body on an API route is 415 with a fault; so is text/plain", async () => {
    for (const type of ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]) {
      const r = await eng.api("POST", `/vms/${vmId}/diskattachments`, { body: "name=x", type });
      assertJsonFault(r, 415);
    }
    const empty = await eng.api("POST", "/vms/00000000-0000-4000-8000-000000000001/start", { body: "", type: "application/x-www-form-urlencoded" });
    assertJsonFault(empty, 404); // an empty form is no body: the request goes on to the handler
  });
});

describe("4: node error codes", () => {
  test("named VDSM codes map to 400/404/409; failures of the node stay 500", () => {
    assert.equal(statusOfNodeCode(ErrorCodes.StorageServerValidationError.code), 400);
    assert.equal(statusOfNodeCode(ErrorCodes.StorageDomainIllegalRemotePath.code), 400);
    assert.equal(statusOfNodeCode(ErrorCodes.InvalidParameter.code), 400);
    assert.equal(statusOfNodeCode(ErrorCodes.VolumeDoesNotExist.code), 404);
    assert.equal(statusOfNodeCode(ErrorCodes.noVM.code), 404);
    assert.equal(statusOfNodeCode(ErrorCodes.NoSpaceLeftOnDomain.code), 409);
    // a full VG was a 500 (seen: a disk move into a block domain without room)
    assert.equal(statusOfNodeCode(ErrorCodes.VolumeGroupSizeError.code), 409);
    assert.equal(statusOfNodeCode(ErrorCodes.createErr.code), 409);
    assert.equal(statusOfNodeCode(ErrorCodes.GeneralException.code), 500);
    assert.equal(statusOfNodeCode(ErrorCodes.VolumeCreationError.code), 500);
  });

  test("initial_size: one rule (protocol) for engine and node; the engine refuses an initial size beyond a preallocated raw disk's capacity with 400", async () => {
    assert.match(initialSizeProblem({ format: "COW", preallocate: "SPARSE", initialSize: 1, capacity: 2 ** 30 }) ?? "", /preallocated raw/);
    assert.match(initialSizeProblem({ format: "RAW", preallocate: "SPARSE", initialSize: 1, capacity: 2 ** 30 }) ?? "", /preallocated raw/);
    assert.match(initialSizeProblem({ format: "RAW", preallocate: "PREALLOCATED", initialSize: 2 ** 31, capacity: 2 ** 30 }) ?? "", /exceeds/);
    assert.equal(initialSizeProblem({ format: "RAW", preallocate: "PREALLOCATED", initialSize: 2 ** 20, capacity: 2 ** 30 }), undefined);
    assert.equal(initialSizeProblem({ format: "COW", preallocate: "SPARSE", initialSize: 0, capacity: 2 ** 30 }), undefined);
    const before = (await eng.api("GET", "/disks")).text;
    const body = { name: "init", provisioned_size: 2 ** 30, format: "raw", sparse: false, initial_size: String(2 ** 31), storage_domains: { storage_domain: [{ name: "nowhere" }] } };
    assertJsonFault(await eng.api("POST", "/disks", { body }), 400, /initial_size/);
    assert.equal((await eng.api("GET", "/disks")).text, before);
  });
});

describe("5: boot files", () => {
  test("os.kernel outside the boot directories is refused at update and add (400), the VM unchanged", async () => {
    const before = (await eng.api("GET", `/vms/${vmId}`)).text;
    assertJsonFault(await eng.api("PUT", `/vms/${vmId}`, { body: { os: { kernel: "/etc/shadow" } } }), 400, /allowed boot directory/);
    assertJsonFault(await eng.api("PUT", `/vms/${vmId}`, { body: { os: { initrd: "/root/initrd" } } }), 400, /allowed boot directory/);
    assert.equal((await eng.api("GET", `/vms/${vmId}`)).text, before);
    assertJsonFault(await eng.api("POST", "/vms", { body: { name: "k2", cluster: { name: "Default" }, os: { kernel: "/etc/passwd" } } }), 400, /allowed boot directory/);
    assert.equal((await eng.api("PUT", `/vms/${vmId}`, { body: { os: { kernel: "/boot/vmlinuz-2" } } })).status, 200, "a kernel in /boot is fine");
  });
});

describe("7: every reply in the fault shape", () => {
  test("a path id over 500 characters: 414 with a fault (JSON and XML)", async () => {
    assertJsonFault(await eng.api("GET", `/vms/${"a".repeat(600)}`), 414);
    const x = await eng.api("GET", `/vms/${"a".repeat(600)}`, { accept: "xml" });
    assert.equal(x.status, 414);
    assertXmlFault(x.text);
  });

  test("unknown paths and methods: 404 fault", async () => {
    assertJsonFault(await eng.api("GET", "/nothing/here"), 404);
    assertJsonFault(await eng.api("PATCH", "/vms"), 404);
  });

  test("HTTP parser errors: 431 for huge headers, 400 for conflicting lengths, bad chunks, CR in headers and garbage, all XML faults", async () => {
    const auth = `Authorization: Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}\r\n`;
    const cases: [string, string, number][] = [
      ["100 KB header", `GET /ovirt-engine/api HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`, 431],
      ["CL and TE", `POST /ovirt-engine/api/vms HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
      ["bad chunk size", `POST /ovirt-engine/api/vms HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, 400],
      ["CR in a header value", "GET /ovirt-engine/api HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400],
      ["garbage request line", "HELLO THERE\r\n\r\n", 400],
    ];
    for (const [what, req, status] of cases) {
      const out = await raw(req);
      assert.match(out, new RegExp(`^HTTP/1\\.1 ${status} `), `${what}: ${out.slice(0, 200)}`);
      assertXmlFault(out);
    }
    assert.equal((await eng.api("GET", "/vms")).status, 200, "the engine still serves");
  });
});

describe("9: SSO and storage paths", () => {
  const token = (query: string, body?: string, type = "application/x-www-form-urlencoded") =>
    fetch(`${eng.url}/ovirt-engine/sso/oauth/token${query}`, { method: "POST", headers: { "content-type": type, accept: "application/json" }, body });

  test("credentials in the query string are refused, even when right", async () => {
    const q = new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: eng.user, password: eng.password });
    const r = await token(`?${q}`, "");
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /query string/);
    const ok = await token("?grant_type=password&scope=ovirt-app-api", new URLSearchParams({ username: eng.user, password: eng.password }).toString());
    assert.equal(ok.status, 200, "grant_type and scope may stay in the query; credentials in the body work");
  });

  test("a password that is not a string is refused", async () => {
    const r = await token("", JSON.stringify({ grant_type: "password", username: eng.user, password: [eng.password] }), "application/json");
    assert.equal(r.status, 400);
    const good = await token("", JSON.stringify({ grant_type: "password", username: eng.user, password: eng.password }), "application/json");
    assert.equal(good.status, 200);
  });

  test("local domain paths: system directories, paths outside the storage roots and option-like names are refused", async () => {
    const before = (await eng.api("GET", "/storagedomains")).text;
    const sd = (storage: Record<string, string>) => ({ name: "bad-sd", type: "data", host: { name: "nohost" }, storage });
    for (const [path, why] of [
      ["/", /system directory/],
      ["/etc", /system directory/],
      ["/etc/vela", /system directory/],
      ["/usr/lib/x", /system directory/],
      ["/nonexistent-check-dir", /storage root/],
      ["/tmp/-rf", /must not start with '-'/],
    ] as const) {
      assertJsonFault(await eng.api("POST", "/storagedomains", { body: sd({ type: "localfs", path }) }), 400, why);
    }
    assertJsonFault(await eng.api("POST", "/storagedomains", { body: sd({ type: "posixfs", path: "/etc", vfs_type: "ext4" }) }), 400, /system directory/);
    assertJsonFault(await eng.api("POST", "/storagedomains", { body: sd({ type: "posixfs", path: "/srv/x", vfs_type: "none", mount_options: "bind" }) }), 400, /bind/);
    assert.equal((await eng.api("GET", "/storagedomains")).text, before);
  });
});
