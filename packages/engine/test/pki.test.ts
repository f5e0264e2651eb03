/**
 * TLS everywhere: the engine makes its CA on first start and serves HTTPS with it, gives the CA
 * at oVirt's pki-resource address without authentication, and keeps both across restarts; a node
 * agent answers only clients whose certificate the engine CA signed for a client (not plain
 * HTTP, not TLS without a certificate, not another CA's, not a node's own); a node enrolls with
 * the registration token and is driven by the engine over mutual TLS.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { type Engine, hostUp, items, type Node, nodeRpc, startEngine, startNode, tempDir, until } from "./support.js";
import { clientTls, testPki } from "./tls.js";
import { connect as tlsConnect } from "node:tls";

const XML_CALL = '<?xml version="1.0"?><methodCall><methodName>getVdsCapabilities</methodName><params/></methodCall>';
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

interface Answer {
  status: number;
  text: string;
}

/** One HTTPS request with exactly the given trust and client certificate (no defaults). */
function tlsGet(url: string, tls: { ca?: string; cert?: string; key?: string; servername?: string }, opts: { method?: string; body?: string; auth?: string } = {}): Promise<Answer> {
  return new Promise((res, rej) => {
    const headers: Record<string, string> = { "content-type": "text/xml" };
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
    const req = httpsRequest(url, { method: opts.method ?? "GET", agent: false, headers, timeout: 10_000, ...tls }, (r) => {
      let text = "";
      r.setEncoding("utf8").on("data", (d: string) => (text += d));
      r.on("end", () => res({ status: r.statusCode ?? 0, text }));
      r.on("error", rej);
    });
    req.on("timeout", () => req.destroy(new Error("no answer")));
    req.on("error", rej);
    req.end(opts.body);
  });
}

function plainGet(url: string, body?: string): Promise<Answer> {
  return new Promise((res, rej) => {
    const req = httpRequest(url, { method: body ? "POST" : "GET", agent: false, timeout: 10_000 }, (r) => {
      let text = "";
      r.setEncoding("utf8").on("data", (d: string) => (text += d));
      r.on("end", () => res({ status: r.statusCode ?? 0, text }));
    });
    req.on("timeout", () => req.destroy(new Error("no answer")));
    req.on("error", rej);
    req.end(body);
  });
}

/** The certificate a node serves to a new connection (with the harness's client certificate). */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((res, rej) => {
    const { cert, key } = clientTls();
    const s = tlsConnect({ host: "127.0.0.1", port, cert, key, rejectUnauthorized: false }, () => {
      const pem = s.getPeerX509Certificate();
      s.destroy();
      if (pem) res(pem);
      else rej(new Error("no certificate served"));
    });
    s.on("error", rej);
  });
}

/** A throw-away CA of our own and a client certificate it signed ("wrong CA"). */
function strangerClient(dir: string): { cert: string; key: string } {
  const o = (...a: string[]) => execFileSync("openssl", a, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  o("req", "-x509", "-new", ...ec, "-keyout", "sca.key", "-out", "sca.pem", "-days", "2", "-subj", "/CN=stranger CA", "-addext", "basicConstraints=critical,CA:TRUE");
  o("req", "-new", ...ec, "-keyout", "s.key", "-out", "s.csr", "-subj", "/CN=stranger");
  execFileSync("sh", ["-c", "printf 'extendedKeyUsage=clientAuth\\n' > s.ext"], { cwd: dir });
  o("x509", "-req", "-in", "s.csr", "-CA", "sca.pem", "-CAkey", "sca.key", "-set_serial", "7", "-days", "2", "-extfile", "s.ext", "-out", "s.pem");
  return { cert: readFileSync(join(dir, "s.pem"), "utf8"), key: readFileSync(join(dir, "s.key"), "utf8") };
}

test("first start makes the engine CA (key 0600) and serves HTTPS with it; pki-resource gives the CA without authentication; a restart keeps both", async () => {
  const eng = await startEngine({ ownPki: true });
  cleanup.push(() => eng.stop());
  const dir = join(eng.home, "pki");
  assert.equal(statSync(dir).mode & 0o777, 0o700, "the pki directory is the engine's alone");
  assert.equal(statSync(join(dir, "ca.key")).mode & 0o777, 0o600, "the CA key is readable by its owner only");
  assert.equal(statSync(join(dir, "engine.key")).mode & 0o777, 0o600);
  assert.match(eng.url, /^https:\/\/127\.0\.0\.1:\d+$/, "the engine announces an https URL");
  const caFile = readFileSync(join(dir, "ca.pem"), "utf8");

  // as a client that trusts nothing yet: the CA, then everything else verified against it
  const first = await tlsGet(`${eng.url}/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA`, { rejectUnauthorized: false } as never);
  assert.equal(first.status, 200, first.text);
  assert.equal(first.text, caFile, "pki-resource serves the CA of the engine's pki directory");
  const ca = first.text;
  assert.ok(new X509Certificate(ca).ca, "a CA certificate");
  for (const host of ["127.0.0.1", "localhost"]) {
    const r = await tlsGet(`https://${host}:${eng.port}/ovirt-engine/api`, { ca }, { auth: `${eng.user}:${eng.password}` });
    assert.equal(r.status, 200, `the API's certificate verifies for ${host} against the served CA: ${r.text.slice(0, 200)}`);
  }
  const engCert = await tlsGet(`${eng.url}/ovirt-engine/services/pki-resource?resource=engine-certificate&format=X509-PEM`, { ca });
  assert.ok(new X509Certificate(engCert.text).verify(new X509Certificate(ca).publicKey), "engine-certificate is signed by the CA");
  for (const q of ["resource=ca-key&format=X509-PEM", "resource=ca-certificate&format=OPENSSH-PUBKEY", "format=X509-PEM-CA", ""]) {
    const r = await tlsGet(`${eng.url}/ovirt-engine/services/pki-resource?${q}`, { ca });
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.match(r.text, /<fault><reason>Bad Request<\/reason>/, q);
    assert.doesNotMatch(r.text, /PRIVATE KEY/);
  }
  // the API is never answered in the clear
  const plain = await plainGet(`http://127.0.0.1:${eng.port}/ovirt-engine/api`).catch((err: Error) => ({ status: 0, text: err.message }));
  assert.notEqual(plain.status, 200, `plain HTTP must not reach the API: ${plain.status}`);
  assert.doesNotMatch(plain.text, /<api>|"product_info"/);

  const certBefore = readFileSync(join(dir, "engine.pem"), "utf8");
  await eng.stop();
  const again = await startEngine({ home: eng.home, ownPki: true });
  cleanup.push(() => again.stop());
  assert.equal(readFileSync(join(dir, "ca.pem"), "utf8"), caFile, "the CA is kept");
  assert.equal(readFileSync(join(dir, "engine.pem"), "utf8"), certBefore, "the engine certificate is kept while it fits");
  const r = await tlsGet(`${again.url}/ovirt-engine/api`, { ca }, { auth: `${again.user}:${again.password}` });
  assert.equal(r.status, 200);
  await again.stop();
});

test("a host name that cannot go into a certificate stops the start with PKI_FAILED", async () => {
  await assert.rejects(startEngine({ ownPki: true, env: { VELA_ENGINE_TLS_NAMES: "good.example,bad name/../x" } }), /PKI_FAILED: not a host name or IP address: "bad name\/..\/x"/);
  await assert.rejects(startEngine({ env: { VELA_ENGINE_TLS: "maybe" } }), /VELA_ENGINE_TLS: expected on or off, got "maybe"/);
});

test("a node answers only clients with a client certificate from the engine CA: not plain HTTP, not without one, not another CA's, not a node's", async () => {
  const node = await startNode({ engineUrl: "", name: "tls-alone" });
  cleanup.push(() => node.stop());
  const pki = testPki();
  const ca = readFileSync(join(pki, "ca.pem"), "utf8");
  const url = `https://127.0.0.1:${node.port}/RPC2`;
  const post = (tls: { cert?: string; key?: string }) => tlsGet(url, { ca, ...tls }, { method: "POST", body: XML_CALL });
  const good = await post({ cert: readFileSync(join(pki, "client.pem"), "utf8"), key: readFileSync(join(pki, "client.key"), "utf8") });
  assert.equal(good.status, 200, "the CA's client certificate is answered");
  assert.match(good.text, /<methodResponse>/);

  const refused = async (what: string, p: Promise<Answer>) => {
    const r = await p.then(
      (a) => `answered HTTP ${a.status}: ${a.text.slice(0, 100)}`,
      () => undefined,
    );
    assert.equal(r, undefined, `${what}: the node must not answer, but ${r}`);
  };
  await refused("TLS without a client certificate", post({}));
  await refused("a client certificate from another CA", post(strangerClient(tempDir("vela-stranger-"))));
  await refused("a node certificate used as a client", post({ cert: readFileSync(join(pki, "node.pem"), "utf8"), key: readFileSync(join(pki, "node.key"), "utf8") }));
  await refused("plain HTTP", plainGet(`http://127.0.0.1:${node.port}/RPC2`, XML_CALL).then((a) => (a.status === 200 ? a : Promise.reject(new Error(String(a.status))))));
  await node.stop();
});

test("a node enrolls with the registration token: its own key, a certificate from the engine CA for its host id and address; the engine drives it over mutual TLS", async () => {
  const token = "enroll-token-1";
  const eng: Engine = await startEngine({ env: { VELA_REGISTRATION_TOKEN: token, VELA_ENGINE_HOST_POLL_MS: "300" } });
  cleanup.push(() => eng.stop());
  const node: Node = await startNode({ engineUrl: eng.url, token, name: "enrolled", enroll: true });
  cleanup.push(() => node.stop());
  const host = await hostUp(eng);
  const dir = join(node.runDir, "pki");
  assert.equal(statSync(join(dir, "node.key")).mode & 0o777, 0o600, "the node's key is its own");
  const cert = new X509Certificate(readFileSync(join(dir, "node.pem")));
  const ca = new X509Certificate(readFileSync(join(testPki(), "ca.pem")));
  assert.ok(cert.verify(ca.publicKey), "signed by the engine CA");
  assert.match(cert.subject, new RegExp(`CN=${host.id}`), "named for the host id");
  assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1", "for the address it registered");
  assert.match(cert.subject, /OU=node/);
  assert.equal(readFileSync(join(dir, "ca.pem"), "utf8"), ca.toString(), "the node keeps the CA it checked with the token");
  assert.ok((await nodeRpc(node, "Host.getStats", {})).result, "the node answers the engine CA's client");

  // a wrong token: the CA the engine sends is not vouched for; the agent says so and stops
  await assert.rejects(startNode({ engineUrl: eng.url, token: "not-the-token", name: "intruder", enroll: true }), /ENROLL_FAILED: the CA .* is not vouched for by our registration token/);

  // an https server that is not a Vela engine
  const tp = testPki();
  const other = createServer({ key: readFileSync(join(tp, "engine.key")), cert: readFileSync(join(tp, "engine.pem")) }, (_req, res) => res.writeHead(404, { "content-type": "text/html" }).end("<html>nginx</html>"));
  await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise((r) => other.close(() => r())));
  const port = (other.address() as AddressInfo).port;
  await assert.rejects(startNode({ engineUrl: `https://127.0.0.1:${port}`, token, name: "lost", enroll: true }), /ENROLL_FAILED: https:\/\/127\.0\.0\.1:\d+ does not look like a Vela engine/);
  // plain http: the token would travel in the clear
  await assert.rejects(startNode({ engineUrl: `http://127.0.0.1:${eng.port}`, token, name: "clear", enroll: true }), /ENROLL_FAILED: VELA_ENGINE_URL=http:.*needs the engine's https URL/);
});

test("without the token a node waits for approval with its key recorded; approving the host issues its certificate; another key for it is refused", async () => {
  const eng = await startEngine({ env: { VELA_ENGINE_HOST_POLL_MS: "300" } });
  cleanup.push(() => eng.stop());
  const starting = startNode({ engineUrl: eng.url, name: "approve-me", enroll: true, env: { VELA_ENGINE_CA: join(testPki(), "ca.pem") } });
  starting.catch(() => undefined);
  const pending = await until("host pending approval", async () => items<{ id: string; status: string }>((await eng.api("GET", "/hosts")).json, "host").find((h) => h.status === "pending_approval"), 30_000);
  await until("the engine logged the key to approve", async () => (/host waits for approval/.test(eng.output()) ? true : undefined), 10_000);
  const key = /"key":"([0-9A-F:]+)"/.exec(eng.output())?.[1];
  assert.ok(key, "the engine logs the key fingerprint");

  // someone else's key under the same host id: refused while the first waits
  const csr = execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "/dev/null", "-subj", "/CN=x"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const intruder = await fetch(`${eng.url}/vela/v1/hosts/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hostUuid: pending.id, name: "approve-me", address: "127.0.0.1", port: 1, csr }),
  });
  assert.equal(intruder.status, 409, await intruder.text());

  // a host not approved cannot renew a certificate it does not have
  const early = await eng.api("POST", `/hosts/${pending.id}/enrollcertificate`, { body: "<action/>" });
  assert.equal(early.status, 409, early.text);
  assert.match(String(early.json?.detail), /pending_approval/);

  const approved = await eng.api("POST", `/hosts/${pending.id}/approve`, { body: "<action/>" });
  assert.equal(approved.status, 200, approved.text);
  const node = await starting;
  cleanup.push(() => node.stop());
  assert.match(node.output(), new RegExp(`"key":"${key}"`), "the node logged the same key fingerprint");
  await hostUp(eng, 30_000);
  const cert = new X509Certificate(readFileSync(join(node.runDir, "pki", "node.pem")));
  assert.match(cert.subject, new RegExp(`CN=${pending.id}`));

  // after the approval, a request for another key is still refused
  const late = await fetch(`${eng.url}/vela/v1/hosts/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hostUuid: pending.id, name: "approve-me", address: "127.0.0.1", port: node.port, csr }),
  });
  assert.equal(late.status, 403, await late.text());

  // Renewal (oVirt's enrollcertificate): a new key and certificate; the node serves it at once,
  // the host stays up and the engine keeps driving it; the old certificate is no longer served.
  const served0 = await servedCertificate(node.port);
  assert.equal(served0.serialNumber, cert.serialNumber);
  const keyBefore = readFileSync(join(node.runDir, "pki", "node.key"), "utf8");
  const renew = await eng.api("POST", `/hosts/${pending.id}/enrollcertificate`, { body: "<action/>" });
  assert.equal(renew.status, 200, renew.text);
  const served1 = await servedCertificate(node.port);
  assert.notEqual(served1.serialNumber, served0.serialNumber, "the node serves a new certificate");
  assert.ok(Date.parse(served1.validTo) >= Date.parse(served0.validTo), `${served1.validTo} vs ${served0.validTo}`);
  assert.match(served1.subject, new RegExp(`CN=${pending.id}`));
  assert.ok(served1.verify(new X509Certificate(readFileSync(join(testPki(), "ca.pem"))).publicKey), "signed by the engine CA");
  assert.equal(new X509Certificate(readFileSync(join(node.runDir, "pki", "node.pem"))).serialNumber, served1.serialNumber, "installed on disk too");
  assert.notEqual(readFileSync(join(node.runDir, "pki", "node.key"), "utf8"), keyBefore, "with a new key");
  assert.equal(statSync(join(node.runDir, "pki", "node.key")).mode & 0o777, 0o600);
  assert.ok((await nodeRpc(node, "Host.getStats", {})).result, "the node still answers the engine CA's client");
  await hostUp(eng, 30_000);
  assert.equal((await eng.get<{ status: string }>(`/hosts/${pending.id}`)).status, "up", "the host stays up");
  // Bad input on the node's side changes nothing: a certificate the node did not ask for.
  const forged = await nodeRpc(node, "Host.installCertificate", { certificate: cert.toString() });
  assert.ok(forged.error, `a certificate for no pending request is refused: ${JSON.stringify(forged)}`);
  assert.equal((await servedCertificate(node.port)).serialNumber, served1.serialNumber);
  assert.equal((await eng.api("POST", "/hosts/5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/enrollcertificate", { body: "<action/>" })).status, 404);

  const bad = await fetch(`${eng.url}/vela/v1/hosts/enroll`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hostUuid: pending.id, name: "approve-me", address: "127.0.0.1", port: 1, csr: "not a request" }) });
  assert.equal(bad.status, 400, await bad.text());
});
