/**
 * The engine's REST API on a real engine process, without nodes: authentication, the oVirt v4
 * shapes of the objects every installation starts with (XML and JSON), and faults for bad input
 * that leave the state unchanged.
 */
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, describe, test } from "node:test";
import { type Engine, items, startEngine } from "./support.js";
import { BLANK_UUID as BLANK } from "@vela/protocol/ids";

let eng: Engine;

before(async () => {
  eng = await startEngine();
});
after(async () => eng?.stop());

function assertXmlFault(text: string) {
  assert.match(text, /^<\?xml[^>]*>\s*<fault><reason>[^<]+<\/reason><detail>[^<]*<\/detail><\/fault>/);
}

function assertJsonFault(r: { json?: Record<string, unknown> }) {
  assert.equal(typeof r.json?.reason, "string", `reason in ${JSON.stringify(r.json)}`);
  assert.equal(typeof r.json?.detail, "string", `detail in ${JSON.stringify(r.json)}`);
}

describe("authentication", () => {
  test("no credentials: 401 with a Basic challenge and an XML fault", async () => {
    const r = await eng.api("GET", "", { auth: null, accept: "xml" });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), 'Basic realm="RESTAPI"');
    assertXmlFault(r.text);
  });

  test("an unknown bearer token: 401 with a Bearer challenge (a Basic one makes browsers pop up a password dialog over the portal)", async () => {
    const r = await eng.api("GET", "/vms", { auth: "Bearer not-a-token" });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="RESTAPI", error="invalid_token"');
    assertJsonFault(r);
  });

  test("wrong password: 401; right password as user@domain or short user: 200", async () => {
    const wrong = await eng.api("GET", "/vms", { auth: `Basic ${Buffer.from(`${eng.user}:nope`).toString("base64")}` });
    assert.equal(wrong.status, 401);
    assertJsonFault(wrong);
    assert.equal((await eng.api("GET", "/vms")).status, 200);
    const short = await eng.api("GET", "/vms", { auth: `Basic ${Buffer.from(`admin:${eng.password}`).toString("base64")}` });
    assert.equal(short.status, 200);
  });

  test("SSO token endpoint issues a bearer token the API accepts; bad password is access_denied", async () => {
    const form = (pw: string) =>
      fetch(`${eng.url}/ovirt-engine/sso/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: eng.user, password: pw }).toString(),
      });
    const bad = await form("nope");
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error_code: string }).error_code, "access_denied");
    const good = (await (await form(eng.password)).json()) as { access_token: string; token_type: string };
    assert.equal(good.token_type, "bearer");
    const bearer = `Bearer ${good.access_token}`;
    assert.equal((await eng.api("GET", "/datacenters", { auth: bearer })).status, 200);
    await fetch(`${eng.url}/ovirt-engine/services/sso-logout?token=${encodeURIComponent(good.access_token)}`);
    assert.equal((await eng.api("GET", "/datacenters", { auth: bearer })).status, 401, "a revoked token no longer works");
  });

  test("Prefer: persistent-auth sets a JSESSIONID cookie that later requests use instead of credentials", async () => {
    const basic = `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}`;
    const first = await fetch(`${eng.url}/ovirt-engine/api`, { headers: { authorization: basic, prefer: "persistent-auth" } });
    const cookie = /JSESSIONID=[^;]+/.exec(first.headers.get("set-cookie") ?? "")?.[0];
    assert.ok(cookie, "a session cookie is set");
    assert.equal((await fetch(`${eng.url}/ovirt-engine/api/vms`, { headers: { cookie } })).status, 200);
    assert.equal((await fetch(`${eng.url}/ovirt-engine/api/vms`, { headers: { cookie: "JSESSIONID=forged" } })).status, 401);
  });
});

describe("shapes of the initial objects", () => {
  test("API root in XML: links, product_info, special_objects.blank_template, summary, time", async () => {
    const r = await eng.api("GET", "", { accept: "xml" });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /application\/xml/);
    assert.match(r.text, /^<\?xml version="1.0" encoding="UTF-8" standalone="yes"\?>\n<api>/);
    assert.match(r.text, /<link href="\/ovirt-engine\/api\/vms" rel="vms"\/>/);
    assert.match(r.text, /<link href="\/ovirt-engine\/api\/vms\?search=\{query\}" rel="vms\/search"\/>/);
    assert.match(r.text, /<product_info><name>Vela<\/name>.*<version>.*<major>4<\/major>.*<\/version><\/product_info>/);
    assert.match(r.text, new RegExp(`<special_objects><blank_template href="/ovirt-engine/api/templates/${BLANK}" id="${BLANK}"/>`));
    assert.match(r.text, /<summary><hosts><active>0<\/active><total>0<\/total><\/hosts>/);
    assert.match(r.text, /<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00<\/time>/);
    assert.doesNotMatch(r.text, /<(\w+)><\/\1>/, "unset members are omitted, never empty elements");
  });

  test("API root in JSON: numbers as strings, dates as epoch ms; /v4 serves the same", async () => {
    const r = await eng.api("GET", "/");
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    const root = r.json as { product_info: { version: { major: string } }; special_objects: { blank_template: { id: string } }; time: number; link: unknown[] };
    assert.equal(root.product_info.version.major, "4");
    assert.equal(root.special_objects.blank_template.id, BLANK);
    assert.equal(typeof root.time, "number");
    assert.ok(root.link.length >= 8);
    const v4 = await fetch(`${eng.url}/ovirt-engine/api/v4/datacenters`, {
      headers: { authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}`, accept: "application/json" },
    });
    assert.equal(items((await v4.json()) as Record<string, unknown>, "data_center").length, 1);
  });

  test("HEAD answers as GET without a body, through the same checks; /v4 URLs and their queries are the same resources", async () => {
    const auth = { authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}` };
    const get = await fetch(`${eng.url}/ovirt-engine/api/datacenters`, { headers: { ...auth, accept: "application/xml" } });
    const head = await fetch(`${eng.url}/ovirt-engine/api/datacenters`, { method: "HEAD", headers: { ...auth, accept: "application/xml" } });
    assert.equal(head.status, 200, `HEAD → ${head.status}`);
    assert.equal(await head.text(), "");
    assert.equal(head.headers.get("content-type"), get.headers.get("content-type"));
    const anon = await fetch(`${eng.url}/ovirt-engine/api/v4/datacenters`, { method: "HEAD" });
    assert.equal(anon.status, 401, "HEAD without credentials is refused like GET");
    const missing = await fetch(`${eng.url}/ovirt-engine/api/vms/00000000-0000-0000-0000-00000000abcd`, { method: "HEAD", headers: auth });
    assert.equal(missing.status, 404);
    const q = await fetch(`${eng.url}/ovirt-engine/api/v4?x=1`, { headers: { ...auth, accept: "application/json" } });
    assert.equal(q.status, 200, "the API root under /v4 with a query");
    const notV4 = await fetch(`${eng.url}/ovirt-engine/api/v4x/datacenters`, { headers: { ...auth, accept: "application/json" } });
    assert.equal(notV4.status, 404, "only /v4 itself is rewritten");
  });

  test("datacenters: Default, uninitialized (no pool yet), in XML and JSON", async () => {
    const xml = await eng.api("GET", "/datacenters", { accept: "xml" });
    assert.match(xml.text, /<data_centers><data_center href="\/ovirt-engine\/api\/datacenters\/([0-9a-f-]{36})" id="\1">/);
    assert.match(xml.text, /<name>Default<\/name>/);
    assert.match(xml.text, /<status>uninitialized<\/status>/);
    assert.match(xml.text, /<local>false<\/local>/);
    assert.match(xml.text, /<version><major>4<\/major><minor>\d+<\/minor><\/version>/);
    const dcs = items<{ id: string; name: string; status: string; local: string; link: { rel: string }[] }>((await eng.api("GET", "/datacenters")).json, "data_center");
    assert.equal(dcs.length, 1);
    assert.equal(dcs[0]?.name, "Default");
    assert.equal(dcs[0]?.status, "uninitialized");
    assert.equal(dcs[0]?.local, "false");
    assert.ok(dcs[0]?.link.some((l) => l.rel === "storagedomains"));
    const one = await eng.get<{ id: string; name: string }>(`/datacenters/${dcs[0]?.id}`);
    assert.equal(one.name, "Default");
  });

  test("clusters: Default, in the Default data center", async () => {
    const dc = items<{ id: string }>((await eng.api("GET", "/datacenters")).json, "data_center")[0];
    const xml = await eng.api("GET", "/clusters", { accept: "xml" });
    assert.match(xml.text, /<clusters><cluster href="\/ovirt-engine\/api\/clusters\/[0-9a-f-]{36}" id="[0-9a-f-]{36}">/);
    assert.match(xml.text, new RegExp(`<data_center href="/ovirt-engine/api/datacenters/${dc?.id}" id="${dc?.id}"/>`));
    const cl = items<{ name: string; data_center: { id: string }; cpu: { architecture: string } }>((await eng.api("GET", "/clusters")).json, "cluster");
    assert.equal(cl[0]?.name, "Default");
    assert.equal(cl[0]?.data_center.id, dc?.id);
    assert.equal(cl[0]?.cpu.architecture, "x86_64");
  });

  test("templates: Blank with the zero id", async () => {
    const xml = await eng.api("GET", "/templates", { accept: "xml" });
    assert.match(xml.text, new RegExp(`<templates><template href="/ovirt-engine/api/templates/${BLANK}" id="${BLANK}">`));
    assert.match(xml.text, /<name>Blank<\/name>/);
    const t = await eng.get<{ name: string; memory: string; status: string }>(`/templates/${BLANK}`);
    assert.equal(t.name, "Blank");
    assert.equal(t.status, "ok");
    assert.equal(t.memory, String(2 ** 30));
    assert.deepEqual(items((await eng.api("GET", "/vms")).json, "vm"), [], "empty collections are {\"vm\": []}");
  });
});

describe("faults for bad input leave the state unchanged", () => {
  const domain = "6f1d3c2a-0000-4000-8000-000000000001";
  const disk = (over: Record<string, unknown>) => ({
    name: "bad",
    provisioned_size: 2 ** 30,
    format: "cow",
    sparse: true,
    storage_domains: { storage_domain: [{ id: domain }] },
    ...over,
  });

  async function counts() {
    const n = async (p: string, k: string) => items((await eng.api("GET", p)).json, k).length;
    return { disks: await n("/disks", "disk"), vms: await n("/vms", "vm"), dcs: await n("/datacenters", "data_center"), jobsFailedOk: true };
  }

  test("each class of bad input: status, fault shape, nothing recorded", async () => {
    const before = await counts();
    const cases: [string, string, string, string | object | undefined, number][] = [
      ["non-UUID id", "GET", "/disks/not-a-uuid", undefined, 404],
      ["path-like id", "GET", "/vms/..%2Fx", undefined, 404],
      ["path-like id in a sub-collection", "GET", "/vms/..%2F..%2Fetc/diskattachments", undefined, 404],
      ["negative size", "POST", "/disks", disk({ provisioned_size: -1 }), 400],
      ["absurd size", "POST", "/disks", disk({ provisioned_size: 2 ** 62 }), 400],
      ["fractional size", "POST", "/disks", disk({ provisioned_size: "1.5" }), 400],
      ["unknown format", "POST", "/disks", disk({ format: "vmdk" }), 400],
      ["missing size", "POST", "/disks", disk({ provisioned_size: undefined }), 400],
      ["disk on unknown domain", "POST", "/disks", disk({}), 404],
      ["domain id not a UUID", "POST", "/disks", disk({ storage_domains: { storage_domain: [{ id: "../x" }] } }), 400],
      ["malformed JSON", "POST", "/disks", '{"name": ', 400],
      ["JSON that is not an object", "POST", "/vms", "[1,2]", 400],
      ["malformed XML", "POST", "/vms", "<vm><name>x</name><cluster>", 400],
      ["XML with a DOCTYPE", "POST", "/vms", '<?xml version="1.0"?><!DOCTYPE vm [<!ENTITY x "y">]><vm><name>&x;</name></vm>', 400],
      ["XML with the wrong root", "POST", "/vms", "<disk><name>x</name></disk>", 400],
      ["start unknown VM", "POST", "/vms/6f1d3c2a-0000-4000-8000-000000000002/start", {}, 404],
      ["VM without name", "POST", "/vms", { cluster: { name: "Default" } }, 400],
      ["VM in unknown cluster", "POST", "/vms", { name: "v", cluster: { name: "nope" } }, 404],
      ["VM kernel path with ..", "POST", "/vms", { name: "v", cluster: { name: "Default" }, os: { kernel: "/boot/../etc/shadow" } }, 400],
      ["VM kernel path relative", "POST", "/vms", { name: "v", cluster: { name: "Default" }, os: { kernel: "vmlinuz" } }, 400],
      ["VM cmdline with a newline", "POST", "/vms", { name: "v", cluster: { name: "Default" }, os: { kernel: "/k", cmdline: "a\nb" } }, 400],
      ["VM memory not whole MiB", "POST", "/vms", { name: "v", cluster: { name: "Default" }, memory: 2 ** 30 + 1 }, 400],
      ["VM memory too small", "POST", "/vms", { name: "v", cluster: { name: "Default" }, memory: 1024 }, 400],
      ["VM name with a slash", "POST", "/vms", { name: "a/b", cluster: { name: "Default" } }, 400],
      ["storage domain path traversal", "POST", "/storagedomains", { name: "s", type: "data", host: { name: "h" }, storage: { type: "localfs", path: "/srv/../etc" } }, 400],
      ["storage domain unknown type", "POST", "/storagedomains", { name: "s", type: "data", host: { name: "h" }, storage: { type: "ceph", path: "/srv" } }, 400],
      ["storage domain on unknown host", "POST", "/storagedomains", { name: "s", type: "data", host: { name: "h" }, storage: { type: "localfs", path: "/srv" } }, 404],
      ["unknown search field", "GET", "/vms?search=color%3Dblue", undefined, 400],
      ["unknown route", "GET", "/nothing-here", undefined, 404],
    ];
    for (const [what, method, path, body, status] of cases) {
      const r = await eng.api(method, path, body === undefined ? {} : { body: body as object });
      assert.equal(r.status, status, `${what}: ${r.text}`);
      assertJsonFault(r);
    }
    const xml = await eng.api("POST", "/disks", { body: "<disk><name>x</name><provisioned_size>1", accept: "xml" });
    assert.equal(xml.status, 400);
    assertXmlFault(xml.text);
    const { jobsFailedOk: _, ...b } = before;
    const { jobsFailedOk: __, ...a } = await counts();
    assert.deepEqual(a, b, "no disk, VM or data center was recorded");
  });

  test("a body over 1 MiB is refused with 413", async () => {
    // Announce 2 MiB but send only the first bytes: the server must refuse on the declared
    // length alone, answering before the upload (no race with a half-sent body).
    const { status, text } = await new Promise<{ status: number; text: string }>((res, rej) => {
      const req = request(`${eng.url}/ovirt-engine/api/vms`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}`,
          accept: "application/json",
          "content-type": "application/json",
          "content-length": String(2 * 1024 * 1024),
        },
      });
      req.on("response", (r) => {
        let t = "";
        r.setEncoding("utf8").on("data", (d: string) => (t += d));
        r.on("end", () => {
          res({ status: r.statusCode ?? 0, text: t });
          req.destroy();
        });
      });
      req.on("error", rej);
      req.write('{"name": "');
    });
    assert.equal(status, 413, text);
    assertJsonFault({ json: JSON.parse(text) as Record<string, unknown> });
  });
});

describe("data centers, clusters and VMs without hosts", () => {
  test("add and remove a data center and a cluster; names are unique; a used data center cannot go", async () => {
    const dc = await eng.post<{ id: string; status: string }>("/datacenters", { name: "dc2", local: false });
    assert.equal(dc.status, "uninitialized");
    assert.equal((await eng.api("POST", "/datacenters", { body: { name: "dc2" } })).status, 409);
    const cl = await eng.post<{ id: string; data_center: { id: string } }>("/clusters", { name: "cl2", data_center: { id: dc.id } });
    assert.equal(cl.data_center.id, dc.id);
    const inUse = await eng.api("DELETE", `/datacenters/${dc.id}`);
    assert.equal(inUse.status, 409, inUse.text);
    assert.equal((await eng.api("DELETE", `/clusters/${cl.id}`)).status, 200);
    assert.equal((await eng.api("DELETE", `/datacenters/${dc.id}`)).status, 200);
    assert.equal((await eng.api("GET", `/datacenters/${dc.id}`)).status, 404);
  });

  test("a VM added in XML keeps direct-boot settings; JSON and XML views agree; search finds it", async () => {
    const body =
      "<vm><name>guest1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template>" +
      "<memory>268435456</memory><cpu><topology><sockets>1</sockets><cores>2</cores><threads>1</threads></topology></cpu>" +
      "<os><type>other_linux</type><kernel>/var/lib/vela/boot/vmlinuz</kernel><initrd>/var/lib/vela/boot/initrd.img</initrd>" +
      "<cmdline>console=ttyS0 vela.write=8</cmdline></os></vm>";
    const r = await eng.api("POST", "/vms", { body, accept: "xml" });
    assert.equal(r.status, 201, r.text);
    const id = /<vm href="\/ovirt-engine\/api\/vms\/([0-9a-f-]{36})" id="\1">/.exec(r.text)?.[1];
    assert.ok(id, r.text);
    assert.equal(r.headers.get("location"), `/ovirt-engine/api/vms/${id}`);
    assert.match(r.text, /<status>down<\/status>/);
    assert.match(r.text, /<kernel>\/var\/lib\/vela\/boot\/vmlinuz<\/kernel>/);
    const vm = await eng.get<{ memory: string; status: string; os: { kernel: string; initrd: string; cmdline: string; type: string }; cpu: { topology: { cores: string } }; template: { id: string } }>(`/vms/${id}`);
    assert.equal(vm.memory, "268435456");
    assert.equal(vm.cpu.topology.cores, "2");
    assert.equal(vm.os.cmdline, "console=ttyS0 vela.write=8");
    assert.equal(vm.os.initrd, "/var/lib/vela/boot/initrd.img");
    assert.equal(vm.template.id, BLANK);
    const found = items<{ id: string }>((await eng.api("GET", "/vms?search=name%3Dguest*")).json, "vm");
    assert.deepEqual(found.map((v) => v.id), [id]);
    assert.equal(items((await eng.api("GET", "/vms?search=name%3Dnobody")).json, "vm").length, 0);
    assert.equal((await eng.api("POST", "/vms", { body: { name: "guest1", cluster: { name: "Default" } } })).status, 409, "VM names are unique");
  });

  test("PUT updates a down VM: rename, memory, clearing direct boot with an empty XML element", async () => {
    const vm = await eng.post<{ id: string }>("/vms", { name: "editme", cluster: { name: "Default" }, os: { kernel: "/boot/k", cmdline: "quiet" } });
    const r = await eng.api("PUT", `/vms/${vm.id}`, { body: "<vm><name>edited</name><memory>536870912</memory><os><kernel></kernel><cmdline/></os></vm>" });
    assert.equal(r.status, 200, r.text);
    const v = await eng.get<{ name: string; memory: string; os: { kernel?: string; cmdline?: string } }>(`/vms/${vm.id}`);
    assert.equal(v.name, "edited");
    assert.equal(v.memory, "536870912");
    assert.equal(v.os.kernel, undefined, "kernel cleared");
    assert.equal(v.os.cmdline, undefined, "cmdline cleared");
    assert.equal((await eng.api("PUT", `/vms/${vm.id}`, { body: { name: "guest1" } })).status, 409, "rename onto a used name");
    assert.equal((await eng.api("PUT", `/vms/${vm.id}`, { body: { memory: -1 } })).status, 400);
    assert.equal((await eng.api("PUT", `/vms/${vm.id}`, { body: { os: { initrd: "/boot/i" } } })).status, 400, "an initrd needs a kernel");
    assert.equal((await eng.get<{ memory: string }>(`/vms/${vm.id}`)).memory, "536870912", "a refused update changes nothing");
  });

  test("VM actions refuse what cannot be done, with 409 and the reason", async () => {
    const vm = await eng.post<{ id: string }>("/vms", { name: "lonely", cluster: { name: "Default" } });
    const start = await eng.api("POST", `/vms/${vm.id}/start`, { body: {} });
    assert.equal(start.status, 409, start.text);
    assert.match(String(start.json?.detail), /no host up/);
    assert.equal((await eng.get<{ status: string }>(`/vms/${vm.id}`)).status, "down", "a failed start leaves the VM down");
    assert.equal((await eng.api("POST", `/vms/${vm.id}/stop`, { body: {} })).status, 409);
    const attach = await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: "6f1d3c2a-0000-4000-8000-000000000009" }, interface: "virtio" } });
    assert.equal(attach.status, 404, attach.text);
    assert.equal((await eng.api("DELETE", `/vms/${vm.id}`)).status, 200);
    assert.equal((await eng.api("GET", `/vms/${vm.id}`)).status, 404);
  });

  test("commands are recorded as jobs with steps", async () => {
    const jobs = items<{ id: string; description: string; status: string }>((await eng.api("GET", "/jobs")).json, "job");
    const add = jobs.find((j) => j.description === "Creating VM lonely");
    assert.ok(add, JSON.stringify(jobs.map((j) => j.description)));
    assert.equal(add.status, "finished");
    const failed = jobs.find((j) => j.description === "Launching VM lonely");
    assert.equal(failed, undefined, "a command refused by validation leaves no job");
    const steps = await eng.api("GET", `/jobs/${add.id}/steps`);
    assert.equal(steps.status, 200);
  });
});
