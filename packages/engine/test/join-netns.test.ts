/**
 * A node joins an engine over the network (`vela-node join https://ENGINE --token T`): the engine
 * in one network namespace, the node in another, linked by a veth (192.0.2.0/24); the test reaches
 * the engine's API over a second veth (198.51.100.0/24), as an administrator's machine would.
 * The node gets the CA (checked with the token), enrolls, and the engine brings the host up over
 * mutual TLS — nothing crosses loopback between "machines".
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Engine, freePort, items, type Node, startEngine, startNode, until } from "./support.js";

const id = randomBytes(3).toString("hex");
const nsEngine = `vela-${id}-je`;
const nsNode = `vela-${id}-jn`;
const octet = () => 2 + ((randomBytes(1)[0] as number) % 250);
const engineAddr = `192.0.2.${octet()}`;
const nodeAddr = `192.0.2.${(Number(engineAddr.split(".")[3]) % 250) + 2}`;
const adminSide = `198.51.100.${octet()}`;
const engineAdminAddr = `198.51.100.${(Number(adminSide.split(".")[3]) % 250) + 2}`;
const TOKEN = `join-${randomBytes(8).toString("hex")}`;
let eng: Engine;
let node: Node | undefined;
let api: string;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 20_000 });
}

before(async () => {
  ip("netns", "add", nsEngine);
  ip("netns", "add", nsNode);
  for (const ns of [nsEngine, nsNode]) ip("-n", ns, "link", "set", "lo", "up");
  // engine ↔ node
  ip("link", "add", `vj${id}a`, "netns", nsEngine, "type", "veth", "peer", "name", `vj${id}b`, "netns", nsNode);
  ip("-n", nsEngine, "addr", "add", `${engineAddr}/24`, "dev", `vj${id}a`);
  ip("-n", nsNode, "addr", "add", `${nodeAddr}/24`, "dev", `vj${id}b`);
  ip("-n", nsEngine, "link", "set", `vj${id}a`, "up");
  ip("-n", nsNode, "link", "set", `vj${id}b`, "up");
  // the administrator (this test) ↔ engine
  ip("link", "add", `vj${id}r`, "type", "veth", "peer", "name", `vj${id}s`, "netns", nsEngine);
  ip("addr", "add", `${adminSide}/24`, "dev", `vj${id}r`);
  ip("link", "set", `vj${id}r`, "up");
  ip("-n", nsEngine, "addr", "add", `${engineAdminAddr}/24`, "dev", `vj${id}s`);
  ip("-n", nsEngine, "link", "set", `vj${id}s`, "up");

  eng = await startEngine({
    netns: nsEngine,
    env: {
      VELA_ENGINE_LISTEN: "0.0.0.0",
      VELA_ENGINE_TLS_NAMES: `${engineAddr},${engineAdminAddr}`,
      VELA_REGISTRATION_TOKEN: TOKEN,
      VELA_ENGINE_HOST_POLL_MS: "300",
    },
  });
  api = `https://${engineAdminAddr}:${eng.port}/ovirt-engine/api`;
});

after(async () => {
  await node?.stop();
  await eng?.stop();
  for (const ns of [nsEngine, nsNode]) {
    try {
      ip("netns", "del", ns);
    } catch {}
  }
  try {
    ip("link", "del", `vj${id}r`);
  } catch {}
});

async function hosts(): Promise<{ id: string; name: string; status: string; address: string }[]> {
  const r = await fetch(`${api}/hosts`, { headers: { accept: "application/json", authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}` } });
  return items((await r.json()) as Record<string, unknown>, "host");
}

test("vela-node join https://ENGINE --token T on another machine: enrolled, registered and up over mutual TLS", async () => {
  const port = await freePort();
  node = await startNode({
    engineUrl: "",
    name: "joiner",
    netns: nsNode,
    port,
    enroll: true,
    args: ["join", `https://${engineAddr}:${eng.port}`, "--token", TOKEN],
    env: { VELA_NODE_LISTEN: nodeAddr, VELA_NODE_ADDRESS: nodeAddr, VELA_NODE_ACCEL: "tcg" },
  });
  const up = await until(
    "the joined host up",
    async () => (await hosts()).find((h) => h.name === "joiner" && h.status === "up"),
    30_000,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nnode: ${node?.output().slice(-2000)}\nengine: ${eng.output().slice(-2000)}`);
  });
  assert.equal(up.address, nodeAddr);
  const cert = new X509Certificate(readFileSync(join(node.runDir, "pki", "node.pem")));
  assert.equal(cert.checkIP(nodeAddr), nodeAddr, "the certificate names the node's own address");
  assert.match(cert.subject, new RegExp(`CN=${up.id}`));
  assert.match(node.output(), /enrolled: the engine signed this node's certificate/);
});

test("join with a wrong token: the node refuses the engine it cannot authenticate, and no host is added", async () => {
  const before = (await hosts()).length;
  await assert.rejects(
    startNode({
      engineUrl: "",
      name: "stranger",
      netns: nsNode,
      port: await freePort(),
      enroll: true,
      args: ["join", `https://${engineAddr}:${eng.port}`, "--token", "guessed"],
      env: { VELA_NODE_LISTEN: nodeAddr, VELA_NODE_ADDRESS: nodeAddr },
    }),
    /ENROLL_FAILED: the CA .* is not vouched for by our registration token/,
  );
  assert.equal((await hosts()).length, before);
  await assert.rejects(
    startNode({ engineUrl: "", name: "bad-args", netns: nsNode, enroll: true, args: ["join", `http://${engineAddr}:${eng.port}`] }),
    /usage: vela-node join https:\/\/ENGINE/,
  );
});
