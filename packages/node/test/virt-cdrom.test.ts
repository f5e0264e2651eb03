/**
 * CD-ROM media on a real node with real QEMU: ISO files made by genisoimage in a domain's ISO
 * directory are listed by getFileStats (files that are not ISO9660 images, and symlinks, are not);
 * a VM starts with one in its CD-ROM drive, read-only; VM.changeCD swaps the medium live and
 * ejects it, and QEMU's own query-block (VM.getStats `cdrom`) shows each change. Bad media (unknown
 * file, not an ISO, a symlink out of the directory, path tricks, an unknown domain) are refused
 * with the medium unchanged, and a create naming one leaves nothing behind.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ISO_IMAGE_UUID } from "@vela/protocol";
import { type LocalPool, type NodeProc, setupLocalPool } from "./harness.js";
import { errorCode, guestVm, qemuPidsFor, startVirtNode, stopWithVms, vmStats, waitFor, waitStatus } from "./virt-support.js";

let node: NodeProc;
let pool: LocalPool;
let isoDir = "";

function makeIso(path: string, volId: string): void {
  const src = mkdtempSync(join(tmpdir(), "vela-iso-src-"));
  writeFileSync(join(src, "README.TXT"), `disc ${volId}\n`);
  execFileSync("genisoimage", ["-quiet", "-output", path, "-volid", volId, "-joliet", "-rock", join(src, "README.TXT")]);
}

/** A VM with nothing to boot: QEMU runs and answers QMP, which is all a CD-ROM change needs. */
function bareVm(vmId: string, cdrom?: unknown) {
  const { kernel: _k, initrd: _i, kernelArgs: _a, ...vm } = guestVm(vmId, { display: "none", memSize: 64 });
  return cdrom ? { ...vm, cdrom } : vm;
}

/** The medium QEMU reports, its path resolved (the node opens it through the domain's mount link). */
async function medium(vmId: string): Promise<{ path: string; trayOpen: string } | undefined> {
  const cd = (await vmStats(node, vmId)).cdrom as { path: string; trayOpen: string } | undefined;
  return cd && { ...cd, path: cd.path && realpathSync(cd.path) };
}

before(async () => {
  node = await startVirtNode();
  pool = await setupLocalPool(node);
  isoDir = join(realpathSync(pool.domainDir), "images", ISO_IMAGE_UUID);
  mkdirSync(isoDir, { recursive: true });
  makeIso(join(isoDir, "a.iso"), "DISC_A");
  makeIso(join(isoDir, "b.iso"), "DISC_B");
  writeFileSync(join(isoDir, "fake.iso"), Buffer.alloc(64 * 1024, 7)); // big enough, no CD001
  writeFileSync(join(isoDir, "notes.txt"), "not a disc\n");
  symlinkSync("/etc/passwd", join(isoDir, "link.iso"));
});
after(async () => {
  await stopWithVms(node);
});

describe("CD-ROM media", () => {
  const vmId = randomUUID();

  test("getFileStats lists the ISO images of the domain only (no fakes, no symlinks)", async () => {
    const stats = (await node.json("StorageDomain.getFileStats", { storagedomainID: pool.sdUUID })) as Record<string, { size: string; status: number }>;
    assert.deepEqual(Object.keys(stats).sort(), ["a.iso", "b.iso"], JSON.stringify(stats));
    assert.ok(Number(stats["a.iso"].size) > 32 * 1024, `size ${stats["a.iso"].size}`);
    assert.equal(stats["a.iso"].status, 0);
  });

  test("a VM starts with an ISO in its CD-ROM drive, read-only, as QEMU reports it", async () => {
    await node.json("VM.create", { vmParams: bareVm(vmId, { domainID: pool.sdUUID, file: "a.iso" }) });
    await waitStatus(node, vmId, "Up");
    const cd = await waitFor("cdrom in stats", () => medium(vmId));
    assert.equal(cd.path, join(isoDir, "a.iso"));
    assert.equal(cd.trayOpen, "false");
    const [pid] = qemuPidsFor(vmId);
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const file = argv.find((a) => a.includes("a.iso"));
    assert.ok(file && JSON.parse(file)["read-only"] === true, `medium opened read-only: ${file}`);
  });

  test("changeCD swaps the medium live, ejects it, and inserts one into the empty drive", async () => {
    await node.json("VM.changeCD", { vmID: vmId, driveSpec: { domainID: pool.sdUUID, file: "b.iso" } });
    assert.deepEqual(await medium(vmId), { path: join(isoDir, "b.iso"), trayOpen: "false" });
    await node.json("VM.changeCD", { vmID: vmId, driveSpec: { file: "" } });
    assert.deepEqual(await medium(vmId), { path: "", trayOpen: "true" });
    await node.json("VM.changeCD", { vmID: vmId, driveSpec: { domainID: pool.sdUUID, file: "a.iso" } });
    assert.deepEqual(await medium(vmId), { path: join(isoDir, "a.iso"), trayOpen: "false" });
    const rec = JSON.parse(readFileSync(join(node.runDir, "vms", vmId, "vm.json"), "utf8")) as { cdrom?: string };
    assert.equal(rec.cdrom && realpathSync(rec.cdrom), join(isoDir, "a.iso"), "the medium is recorded for a restarted agent");
  });

  test("bad media are refused and the medium stays as it was", async () => {
    const bad: [string, unknown, number][] = [
      ["an unknown file", { domainID: pool.sdUUID, file: "nope.iso" }, 41],
      ["a file that is not an ISO image", { domainID: pool.sdUUID, file: "fake.iso" }, 41],
      ["a text file", { domainID: pool.sdUUID, file: "notes.txt" }, 41],
      ["a symlink out of the ISO directory", { domainID: pool.sdUUID, file: "link.iso" }, 41],
      ["an unknown domain", { domainID: randomUUID(), file: "a.iso" }, 358],
      ["a parent-directory path", { domainID: pool.sdUUID, file: "../a.iso" }, 1000],
      ["a path with a slash", { domainID: pool.sdUUID, file: `${ISO_IMAGE_UUID}/a.iso` }, 1000],
      ["an absolute path", { domainID: pool.sdUUID, file: "/etc/passwd" }, 1000],
      ["a dot file", { domainID: pool.sdUUID, file: "..iso" }, 1000],
      ["a file without a domain", { file: "a.iso" }, 1000],
      ["a domain that is not a UUID", { domainID: "../..", file: "a.iso" }, 1000],
    ];
    for (const [what, spec, code] of bad) {
      const err = await errorCode(node.json("VM.changeCD", { vmID: vmId, driveSpec: spec }));
      assert.equal(err?.code, code, `${what}: ${err?.message}`);
      assert.deepEqual(await medium(vmId), { path: join(isoDir, "a.iso"), trayOpen: "false" }, `${what}: medium unchanged`);
    }
    const err = await errorCode(node.json("VM.changeCD", { vmID: randomUUID(), driveSpec: { file: "" } }));
    assert.equal(err?.code, 1, `unknown VM: ${err?.message}`);
  });

  test("a create naming a bad medium fails and leaves no run directory and no QEMU", async () => {
    for (const file of ["nope.iso", "fake.iso", "link.iso"]) {
      const id = randomUUID();
      const err = await errorCode(node.json("VM.create", { vmParams: bareVm(id, { domainID: pool.sdUUID, file }) }));
      assert.equal(err?.code, 41, `${file}: ${err?.message}`);
      assert.equal(existsSync(join(node.runDir, "vms", id)), false, `${file}: no run directory`);
      assert.deepEqual(qemuPidsFor(id), [], `${file}: no QEMU`);
    }
  });

  test("a VM without a medium has an empty CD-ROM drive that takes one live", async () => {
    const id = randomUUID();
    await node.json("VM.create", { vmParams: bareVm(id) });
    await waitStatus(node, id, "Up");
    assert.deepEqual(await waitFor("cdrom in stats", () => medium(id)), { path: "", trayOpen: "false" });
    await node.json("VM.changeCD", { vmID: id, driveSpec: { domainID: pool.sdUUID, file: "b.iso" } });
    assert.deepEqual(await medium(id), { path: join(isoDir, "b.iso"), trayOpen: "false" });
    await node.json("VM.destroy", { vmID: id });
  });
});
