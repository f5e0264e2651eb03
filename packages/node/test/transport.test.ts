/**
 * The node's two transports over one verb table: XML-RPC (VDSM flat names, positional params,
 * faults for protocol errors) and JSON-RPC 2.0 (VDSM 4.x names, named params, error objects).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type NodeProc, startNode } from "./harness.js";
import { rawRequest } from "./tls.js";

let node: NodeProc;
before(async () => {
  node = await startNode();
});
after(async () => {
  await node.stop();
});

async function postRaw(path: string, body: string, type = "text/xml"): Promise<string> {
  return (await rawRequest(`${node.url}${path}`, { method: "POST", headers: { "content-type": type }, body })).text;
}

describe("XML-RPC", () => {
  test("getVdsCapabilities answers with status Done and host facts", async () => {
    const r = await node.xml("getVdsCapabilities");
    assert.equal(r.status.code, 0);
    assert.equal(r.status.message, "Done");
    const info = r.info as Record<string, unknown>;
    assert.match(String(info.uuid), /^[0-9a-f-]{36}$/);
    assert.ok(Number(info.cpuCores) >= 1);
  });

  test("/ serves XML-RPC as /RPC2 does", async () => {
    const xml = await postRaw("/", "<?xml version='1.0'?><methodCall><methodName>ping</methodName><params/></methodCall>");
    assert.match(xml, /<name>code<\/name><value><int>0<\/int>/);
  });

  test("an unknown method is an XML-RPC fault", async () => {
    const xml = await postRaw("/RPC2", "<?xml version='1.0'?><methodCall><methodName>noSuchVerb</methodName></methodCall>");
    assert.match(xml, /<fault>/);
    assert.match(xml, /not supported/);
  });

  test("malformed XML is a fault, not a crash", async () => {
    for (const body of ["<methodCall><methodName>ping", "not xml at all", "", "<methodCall><methodName>ping</methodName><params><param><value><int>x</int></value></param></params></methodCall>"]) {
      const xml = await postRaw("/RPC2", body);
      assert.match(xml, /<fault>/, `body ${JSON.stringify(body)} → ${xml}`);
    }
    assert.equal((await node.xml("ping")).status.code, 0, "node still serves after bad bodies");
  });

  test("a non-UUID parameter gets InvalidParameter (1000) naming it", async () => {
    const r = await node.xml("getStorageDomainInfo", "../../etc");
    assert.equal(r.status.code, 1000);
    assert.match(r.status.message, /sdUUID/);
  });

  test("too many positional parameters are refused", async () => {
    const r = await node.xml("ping", 1, 2);
    assert.equal(r.status.code, 1000);
  });
});

describe("JSON-RPC", () => {
  test("Host.getCapabilities returns the info member as result", async () => {
    const info = (await node.json("Host.getCapabilities")) as Record<string, unknown>;
    assert.match(String(info.uuid), /^[0-9a-f-]{36}$/);
  });

  test("the same verb answers on both transports with the same data", async () => {
    const viaJson = (await node.json("Host.getCapabilities")) as Record<string, unknown>;
    const viaXml = (await node.xml("getVdsCapabilities")).info as Record<string, unknown>;
    assert.equal(viaJson.uuid, viaXml.uuid);
  });

  test("errors carry VDSM codes", async () => {
    await assert.rejects(node.json("StorageDomain.getInfo", { storagedomainID: "not-a-uuid" }), (e: { code: number }) => e.code === 1000);
    await assert.rejects(node.json("No.such"), (e: { code: number }) => e.code === -32601);
    await assert.rejects(node.json("Host.ping", { bogus: 1 }), (e: { code: number }) => e.code === 1000);
  });

  test("malformed JSON gets a parse error object", async () => {
    const txt = await postRaw("/jsonrpc", "{nope", "application/json");
    assert.equal(JSON.parse(txt).error.code, -32700);
  });

  test("batches answer each request; notifications get no answer", async () => {
    const r = (await node.jsonRaw([
      { jsonrpc: "2.0", id: 1, method: "Host.ping" },
      { jsonrpc: "2.0", method: "Host.ping" },
      { jsonrpc: "2.0", id: 3, method: "Nope.nope" },
    ])) as { id: number; result?: unknown; error?: unknown }[];
    assert.equal(r.length, 2);
    assert.deepEqual(r[0], { jsonrpc: "2.0", id: 1, result: true });
    assert.equal(r[1]!.id, 3);
    assert.ok(r[1]!.error);
  });
});
