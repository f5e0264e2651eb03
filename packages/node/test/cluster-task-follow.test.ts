/**
 * An engine job whose SPM loses its role mid-task ends, on the new SPM's word. The copy's
 * `qemu-img convert` is stopped so the task is surely still running; the SPM is then frozen past
 * its lease, another host takes over and rolls the task back from the master domain, and the old
 * SPM is let go on. The old SPM keeps its fenced task in "cleaning" for good, so an engine that
 * polls only the host that started a task waits forever: seen as a chaos run that never ended.
 * The engine must follow the task to the data center's new SPM, fail the job, drop the copy and
 * unlock the source; the storage is left as the checker wants it and new work goes through; the
 * old SPM drops its fenced task once it sees the newer SPM.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { Cluster, type Host, restItems, until } from "./cluster-support.js";

const c = new Cluster({ hosts: 2, leaseTimeSec: 6, renewSec: 1, engine: true });
let stopped: number[] = [];
before(() => c.start());
after(async () => {
  for (const pid of stopped) signal(pid, "SIGCONT");
  await c.stop();
});

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Pids of the processes whose command line holds every needle. */
function pidsWith(...needles: string[]): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e)) continue;
    let line: string;
    try {
      line = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").join(" ");
    } catch {
      continue;
    }
    if (needles.every((n) => line.includes(n))) out.push(Number(e));
  }
  return out;
}

async function rest(method: string, path: string, body?: unknown) {
  const r = await c.engine!.rest(method, path, body);
  if (r.status >= 400) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.text}`);
  return r.json ?? {};
}

async function diskSettled(id: string): Promise<string> {
  return until(`disk ${id} settled`, async () => {
    const s = String((await rest("GET", `/disks/${id}`)).status);
    return s === "locked" ? undefined : s;
  }, 120_000, 250);
}

test("a copy whose SPM is frozen mid-task ends on the new SPM's word; the copy is dropped, the source unlocked", { timeout: 300_000 }, async () => {
  const src = String((await rest("POST", "/disks", { name: "follow-src", provisioned_size: 256 * 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ id: c.sdUUID }] } })).id);
  assert.equal(await diskSettled(src), "ok");
  const srcVol = String((await rest("GET", `/disks/${src}`)).image_id);
  // Real data, so the copy has work to do.
  execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 0 96M", join(c.domainDir, "images", src, srcVol)], { stdio: "ignore" });

  const spm = (await c.spms())[0] as Host;
  const job = await rest("POST", `/disks/${src}/copy`, { storage_domain: { id: c.sdUUID }, disk: { name: "follow-copy" } });
  const copy = String((job.disk as { id?: string } | undefined)?.id ?? "");
  const convert = await until("qemu-img convert of the copy", async () => {
    const pids = pidsWith("qemu-img", "convert", src);
    return pids.length ? pids : undefined;
  }, 30_000, 20);
  stopped = convert;
  for (const pid of convert) signal(pid, "SIGSTOP");

  c.freeze(spm);
  const next = await c.waitSpm(120_000, spm);
  assert.notEqual(next, spm);
  c.thaw(spm);
  for (const pid of convert) signal(pid, "SIGCONT");

  // The copy disk is forgotten (or, had the new SPM rolled the task forward, ok); never left locked.
  await until("copy job ended", async () => {
    const disks = restItems<{ id: string; status: string }>(await rest("GET", "/disks"), "disk");
    return disks.some((d) => d.status === "locked") ? undefined : disks;
  }, 120_000, 250);
  const disks = restItems<{ id: string; status: string }>(await rest("GET", "/disks"), "disk");
  assert.equal(disks.find((d) => d.id === src)?.status, "ok", "the source is unlocked");
  const copied = copy ? disks.find((d) => d.id === copy) : disks.find((d) => d.id !== src);
  const onDisk = readdirSync(join(c.domainDir, "images")).sort();
  if (copied) {
    assert.equal(copied.status, "ok");
    assert.deepEqual(onDisk, [src, copied.id].sort());
  } else {
    assert.deepEqual(onDisk, [src], "the half-made copy was rolled back on storage");
  }
  const report = await checkFileDomain(c.domainDir);
  assert.deepEqual(report.problems, []);

  // The old SPM, told by the pool's metadata that a newer SPM exists, lets go of the task it was
  // fenced with: that SPM owns it now. Nothing is left "cleaning" there.
  assert.notEqual((await c.spmStatus(spm)).spmStatus, "SPM");
  const left = (await spm.node.json("Host.getAllTasksStatuses", {})) as Record<string, { taskState: string }>;
  assert.deepEqual(Object.entries(left).filter(([, t]) => t.taskState === "cleaning"), [], "no fenced task left on the old SPM");

  // And the data center works on: a new disk through the new SPM.
  const fresh = String((await rest("POST", "/disks", { name: "follow-after", provisioned_size: 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ id: c.sdUUID }] } })).id);
  assert.equal(await diskSettled(fresh), "ok");
});
