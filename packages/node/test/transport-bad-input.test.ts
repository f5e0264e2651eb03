/**
 * The fuzz run's findings against the node (issue 15): XML-RPC refuses DTDs and malformed
 * documents with a fault, every answer is a VDSM status or a protocol fault (wrong methods and
 * paths, oversized bodies, HTTP parser errors), and createVolume refuses initial sizes by the
 * shared rule and raw sizes the file system cannot hold before any task or file exists.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { connect } from "node:tls";
import { after, before, describe, test } from "node:test";
import { type LocalPool, type NodeProc, setupLocalPool, startNode } from "./harness.js";
import { clientTls, rawRequest } from "./tls.js";

const BLANK = "00000000-0000-0000-0000-000000000000";
let node: NodeProc;
let pool: LocalPool;

before(async () => {
  node = await startNode();
  pool = await setupLocalPool(node);
});
after(async () => node?.stop());

async function send(method: string, path: string, body?: string | Buffer, type = "text/xml") {
  const res = await rawRequest(`${node.url}${path}`, { method, headers: body === undefined ? {} : { "content-type": type }, body });
  return { status: res.status, text: res.text };
}

function assertXmlFault(text: string, message?: RegExp) {
  assert.match(text, /<methodResponse><fault><value><struct><member><name>faultCode<\/name>/, text.slice(0, 300));
  if (message) assert.match(text, message);
}

function raw(request: string): Promise<string> {
  return new Promise((res, rej) => {
    // over TLS with the run's client certificate: the agent answers nothing else
    const s = connect({ port: node.port, host: "127.0.0.1", ...clientTls() });
    let out = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => (out += d));
    s.on("error", (e) => (out ? res(out) : rej(e)));
    s.on("close", () => res(out));
    s.once("secureConnect", () => s.write(request));
    setTimeout(() => s.end(), 2000).unref();
  });
}

describe("8: a strict XML-RPC parser", () => {
  test("a DOCTYPE with an internal entity is refused, never expanded", async () => {
    const body =
      '<?xml version="1.0"?><!DOCTYPE methodCall [<!ENTITY x "CHECK-ENTITY">]><methodCall><methodName>getStorageDomainInfo</methodName>' +
      "<params><param><value><string>&x;</string></value></param></params></methodCall>";
    const r = await send("POST", "/RPC2", body);
    assertXmlFault(r.text, /DOCTYPE/);
    assert.doesNotMatch(r.text, /CHECK-ENTITY/);
  });

  test("unclosed and mismatched documents are faults, not calls", async () => {
    for (const body of [
      "<?xml version='1.0'?><methodCall><methodName>ping</methodName><params/>",
      "<?xml version='1.0'?><methodCall><methodName>ping</methodName><params/></methodcall>",
      "<?xml version='1.0'?><methodCall><methodName>ping</methodName><params></methodCall></params>",
    ]) {
      assertXmlFault((await send("POST", "/RPC2", body)).text, /malformed XML/);
    }
  });

  test("deep nesting is a fault", async () => {
    const v = `${"<value><array><data>".repeat(5000)}${"</data></array></value>".repeat(5000)}`;
    assertXmlFault((await send("POST", "/RPC2", `<methodCall><methodName>ping</methodName><params><param>${v}</param></params></methodCall>`)).text, /nested deeper/);
    const j = await send("POST", "/jsonrpc", `{"jsonrpc":"2.0","id":1,"method":"Host.ping","params":{"a":${"[".repeat(60000)}${"]".repeat(60000)}}}`, "application/json");
    assert.match(j.text, /"error":\{"code":-32600,"message":"nested deeper/);
  });
});

describe("7: every node answer in the protocol's shape", () => {
  test("GET and PUT on /RPC2 are XML-RPC faults; on /jsonrpc JSON-RPC errors; unknown paths too", async () => {
    for (const m of ["GET", "PUT", "DELETE"]) {
      const r = await send(m, "/RPC2", m === "GET" || m === "DELETE" ? undefined : "<x/>");
      assert.equal(r.status, 405, r.text);
      assertXmlFault(r.text, /POST a call/);
    }
    const j = await send("GET", "/jsonrpc");
    assert.equal(j.status, 405);
    assert.match(j.text, /^\{"jsonrpc":"2.0","id":null,"error":\{"code":-32601/);
    assertXmlFault((await send("GET", "/nothing")).text, /no endpoint/);
  });

  test("a body over 16 MiB is a fault", async () => {
    // Raw: the node answers once the declared length is over the limit and closes, which fetch
    // reports as a failed upload.
    const big = 17 * 2 ** 20;
    const x = await raw(`POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: ${big}\r\n\r\n<methodCall>`);
    assert.match(x, /^HTTP\/1\.1 413 /, x.slice(0, 200));
    assertXmlFault(x, /too large/);
    const j = await raw(`POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big}\r\n\r\n{`);
    assert.match(j, /^HTTP\/1\.1 413 /, j.slice(0, 200));
    assert.match(j, /"error":\{"code":-32600,"message":"request body too large"/);
  });

  test("requests the HTTP parser refuses get an XML-RPC fault", async () => {
    for (const req of [`POST /RPC2 HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`, "HELLO\r\n\r\n", "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"]) {
      const out = await raw(req);
      assert.match(out, /^HTTP\/1\.1 4(00|31) /, out.slice(0, 200));
      assertXmlFault(out);
    }
    assert.equal((await node.xml("ping")).status.code, 0, "the node still serves");
  });
});

describe("4/6: createVolume refuses early", () => {
  const create = (size: number | string, format: number, prealloc: number, initialSize?: number) =>
    node.json("Volume.create", {
      storagedomainID: pool.sdUUID,
      storagepoolID: pool.spUUID,
      imageID: randomUUID(),
      size: String(size),
      volFormat: format,
      preallocate: prealloc,
      diskType: "DATA",
      volumeID: randomUUID(),
      desc: "",
      srcImgUUID: BLANK,
      srcVolUUID: BLANK,
      ...(initialSize === undefined ? {} : { initialSize: String(initialSize) }),
    });

  test("an initial size on a cow volume is refused by the shared rule (1000)", async () => {
    const images = readdirSync(`${pool.domainDir}/images`);
    await assert.rejects(create(2 ** 30, 4, 2, 1), (e: Error & { code?: number }) => e.code === 1000 && /preallocated raw/.test(e.message));
    assert.deepEqual(readdirSync(`${pool.domainDir}/images`), images);
  });

  test("a 1 PiB raw volume the file system cannot hold is refused before any task, leaving nothing", async () => {
    const images = readdirSync(`${pool.domainDir}/images`);
    await assert.rejects(create(2 ** 50, 5, 2), (e: Error & { code?: number }) => e.code === 1000 && /cannot hold/.test(e.message));
    assert.deepEqual(readdirSync(`${pool.domainDir}/images`), images, "no image directory was made");
    assert.deepEqual(readdirSync(pool.domainDir).filter((n) => n.startsWith(".size-probe")), [], "the probe file is gone");
  });
});

describe("9: the node keeps domains out of system directories", () => {
  test("connectStorageServer refuses /, /etc and /usr/lib as local paths and bind mounts (per-connection status 390/1000)", async () => {
    const links = readdirSync(`${node.runDir}/data-center/mnt`);
    for (const connection of ["/", "/etc", "/usr/lib/x", "/var"]) {
      const r = await node.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection }]);
      const list = r.statuslist as { status: number }[];
      assert.equal(list[0]?.status, 390, `${connection}: ${JSON.stringify(r)}`);
    }
    const b = await node.xml("connectStorageServer", 6, BLANK, [{ id: randomUUID(), connection: "/srv/x", vfs_type: "none", mnt_options: "bind" }]);
    assert.equal((b.statuslist as { status: number }[])[0]?.status, 1000, JSON.stringify(b));
    assert.deepEqual(readdirSync(`${node.runDir}/data-center/mnt`), links, "nothing was linked or mounted");
  });
});
