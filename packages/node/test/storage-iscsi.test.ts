/**
 * The iSCSI connection provider (domain/iscsi.ts) through a real node process: discovery
 * (discoverSendTargets) and logins (connectStorageServer with domType 3 = ISCSI) validate the
 * portal address, port and IQN before anything runs (InvalidIpAddress 472, InvalidParameter 1000),
 * and on a kernel without iscsi_tcp (this machine kind: loop and FUSE only) refuse with
 * iSCSISetupError 465 and a message saying so, without starting an iSCSI session.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { type NodeProc, startNode } from "./harness.js";

let node: NodeProc;
/** Whether this kernel could run an initiator at all (the refusal tests need one that cannot). */
const kernelHasIscsi = existsSync("/sys/module/iscsi_tcp");
const IQN = "iqn.2026-12.org.example:storage.lun1";

before(async () => {
  node = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
});
after(async () => {
  await node?.stop();
});

const login = (con: Record<string, unknown>) => node.xml("connectStorageServer", 3, BLANK, [{ id: randomUUID(), ...con }]);
/** The connection's status, or the whole call's code when the request itself was refused. */
const statusOf = (r: Record<string, unknown> & { status: { code: number } }) => (r.status.code !== 0 ? r.status.code : (r.statuslist as { status: number }[])[0]!.status);

test("without iscsi_tcp: discovery and login are refused with iSCSISetupError 465 and a message that says why", { skip: kernelHasIscsi ? "this kernel has iscsi_tcp: the refusal cannot be shown here" : false }, async () => {
  const d = await node.xml("discoverSendTargets", { connection: "192.0.2.10", port: 3260 });
  assert.equal(d.status.code, 465, d.status.message);
  assert.match(d.status.message, /iscsi_tcp/);
  const l = await login({ connection: "192.0.2.10", port: "3260", iqn: IQN });
  assert.equal(l.status.code, 0, "connectStorageServer answers one status per connection");
  assert.equal(statusOf(l), 465);
  const json = await node.json("ISCSIConnection.discoverSendTargets", { host: { connection: "198.51.100.7" } }).catch((e: { code: number; message: string }) => e);
  assert.equal((json as { code: number }).code, 465, JSON.stringify(json));
  assert.match((json as { message: string }).message, /no iSCSI initiator/);
});

test("bad portal addresses, ports, IQNs and portal group tags are refused before iscsiadm runs", async () => {
  for (const address of ["999.1.1.1", "10.0.0", "host name", "-oProxy", "a..b", "", "x".repeat(300)]) {
    const d = await node.xml("discoverSendTargets", { connection: address, port: 3260 });
    assert.notEqual(d.status.code, 0, `discovery of ${JSON.stringify(address)} refused`);
    assert.notEqual(d.status.code, 465, `${JSON.stringify(address)} is refused for what it is, not for the missing initiator: ${d.status.message}`);
    const l = await login({ connection: address, port: "3260", iqn: IQN });
    assert.ok([472, 1000].includes(statusOf(l)), `login to ${JSON.stringify(address)}: status ${statusOf(l)}`);
  }
  for (const port of [0, 70000, -1, "80; ls"]) {
    const d = await node.xml("discoverSendTargets", { connection: "192.0.2.10", port });
    assert.notEqual(d.status.code, 0, `port ${port}`);
    assert.notEqual(d.status.code, 465, `port ${port}: ${d.status.message}`);
    assert.equal(statusOf(await login({ connection: "192.0.2.10", port: String(port), iqn: IQN })), 1000, `login port ${port}`);
  }
  for (const iqn of ["", "IQN.2026-12.org.example:x", "iqn.2026-13.org.example:x", "iqn.26-12.org.example", "iqn.2026-12.org.example:has space", "eui.123", "iqn.2026-12.-bad.example"]) {
    const s = statusOf(await login({ connection: "192.0.2.10", port: "3260", iqn }));
    assert.equal(s, 1000, `iqn ${JSON.stringify(iqn)}`);
  }
  for (const tpgt of ["-1", "x", "70000"]) assert.equal(statusOf(await login({ connection: "192.0.2.10", iqn: IQN, tpgt })), 1000, `tpgt ${tpgt}`);
  assert.equal(statusOf(await login({ connection: "192.0.2.10", iqn: IQN, user: "u\nv", password: "p" })), 1000, "a line break in the CHAP user");
});
