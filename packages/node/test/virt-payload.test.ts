/**
 * The payload (cloud-init seed) disk of a VM definition: the node packs the files into an ISO9660
 * image with the asked volume id in the VM's run directory (mode 0600), attaches it read-only,
 * keeps the contents out of vm.json and its log, and removes it with the run directory. Bad
 * payloads (path-like file names, a bad volume id, NUL bytes, too many or too large files) are
 * InvalidParameter and leave nothing behind.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NodeProc } from "./harness.js";
import { errorCode, guestVm, qemuPidsFor, startVirtNode, stopWithVms, waitFor, waitStatus } from "./virt-support.js";

const SECRET = "s3cret-payload-pw";
let node: NodeProc;

before(async () => {
  node = await startVirtNode();
});
after(async () => {
  await stopWithVms(node);
});

const vmDir = (id: string) => join(node.runDir, "vms", id);

describe("VM payload", () => {
  test("written as an ISO with the volume id, attached read-only, secrets kept out of vm.json and logs, gone on destroy", async () => {
    const vmId = randomUUID();
    const payload = { volId: "cidata", files: { "meta-data": 'instance-id: "x"\n', "user-data": `#cloud-config\npassword: "${SECRET}"\n` } };
    await node.json("VM.create", { vmParams: { ...guestVm(vmId, { display: "none" }), payload } });
    await waitStatus(node, vmId, "Up");
    const iso = join(vmDir(vmId), "payload.iso");
    assert.equal(statSync(iso).mode & 0o777, 0o600);
    const desc = execFileSync("isoinfo", ["-d", "-i", iso], { encoding: "utf8" });
    assert.match(desc, /Volume id: cidata/);
    const listing = execFileSync("isoinfo", ["-R", "-f", "-i", iso], { encoding: "utf8" });
    assert.deepEqual(listing.trim().split("\n").sort(), ["/meta-data", "/user-data"]);
    assert.equal(execFileSync("isoinfo", ["-R", "-x", "/user-data", "-i", iso], { encoding: "utf8" }), payload.files["user-data"]);
    assert.deepEqual(readdirSync(vmDir(vmId)).filter((f) => f.startsWith("payload")), ["payload.iso"], "no loose payload files");
    const [pid] = qemuPidsFor(vmId);
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const file = argv.find((a) => a.includes("payload.iso"));
    assert.ok(file && JSON.parse(file)["read-only"] === true, `payload attached read-only: ${file}`);
    assert.ok(!readFileSync(join(vmDir(vmId), "vm.json"), "utf8").includes(SECRET), "vm.json holds no payload");
    assert.ok(!node.output().includes(SECRET), "the node log holds no payload");
    await node.json("VM.destroy", { vmID: vmId });
    await waitFor("run directory gone", () => (!existsSync(vmDir(vmId)) ? true : undefined), 10_000);
  });

  test("bad payloads are InvalidParameter and leave nothing behind", async () => {
    const bad: [string, unknown][] = [
      ["a path as file name", { volId: "cidata", files: { "../x": "a" } }],
      ["a directory in the name", { volId: "cidata", files: { "a/b": "a" } }],
      ["an empty name", { volId: "cidata", files: { "": "a" } }],
      ["a volume id with a space", { volId: "ci data", files: { "meta-data": "a" } }],
      ["a volume id like an option", { volId: "-x", files: { "meta-data": "a" } }],
      ["a NUL byte", { volId: "cidata", files: { "user-data": "a\u0000b" } }],
      ["no files", { volId: "cidata", files: {} }],
      ["too many files", { volId: "cidata", files: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, "a"])) }],
      ["a file over 64 KiB", { volId: "cidata", files: { "user-data": "a".repeat(65 * 1024) } }],
    ];
    for (const [what, payload] of bad) {
      const vmId = randomUUID();
      const err = await errorCode(node.json("VM.create", { vmParams: { ...guestVm(vmId, { display: "none" }), payload } }));
      assert.equal(err?.code, 1000, `${what}: ${err?.message}`);
      assert.match(err.message, /payload/, what);
      assert.equal(existsSync(vmDir(vmId)), false, `${what}: no run directory`);
      assert.deepEqual(qemuPidsFor(vmId), [], `${what}: no QEMU`);
    }
  });
});
