/**
 * New volume files come from the agent's qemu-storage-daemon (blockdev-create over QMP): they must
 * be the same files `qemu-img create` makes, the daemon must never outlive the agent, and a daemon
 * that dies must cost nothing but speed (the create falls back to qemu-img and the daemon is
 * started again).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type LocalPool, type NodeProc, startNode, waitTask } from "./harness.js";
import { usePoolNode } from "./pool-fixture.js";

const GiB = 2 ** 30;

let node: NodeProc;
let pool: LocalPool;

usePoolNode((n, p) => {
  node = n;
  pool = p;
});

/** Pids of the qemu-storage-daemon processes whose parent is `ppid`. */
function daemonsOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // Fields after the ")" closing comm: state, ppid, ...
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (Number(rest[1]) === ppid && comm.startsWith("qemu-storage")) out.push(Number(d));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

async function create(o: { img?: string; vol?: string; format?: number; prealloc?: number; parent?: string } = {}) {
  const img = o.img ?? randomUUID();
  const vol = o.vol ?? randomUUID();
  const task = (await node.json("Volume.create", {
    storagedomainID: pool.sdUUID,
    storagepoolID: pool.spUUID,
    imageID: img,
    volumeID: vol,
    size: GiB,
    volFormat: o.format ?? 4,
    preallocate: o.prealloc ?? 2,
    diskType: "DATA",
    desc: "qsd",
    ...(o.parent ? { srcImgUUID: img, srcVolUUID: o.parent } : {}),
  })) as string;
  const st = await waitTask(node, task);
  assert.equal(st.taskResult, "success", st.message);
  return { img, vol, path: join(pool.domainDir, "images", img, vol) };
}

function info(path: string): Record<string, unknown> {
  return JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path], { encoding: "utf8" })) as Record<string, unknown>;
}

test("the agent runs one qemu-storage-daemon as its child", () => {
  assert.equal(daemonsOf(node.proc.pid!).length, 1);
});

test("a thin qcow2 volume is byte for byte what qemu-img create makes", async () => {
  const v = await create();
  const ref = join(mkdtempSync(join(tmpdir(), "vela-qsd-ref-")), "ref");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "compat=1.1", ref, String(GiB)]);
  assert.deepEqual(readFileSync(v.path), readFileSync(ref));
});

test("a snapshot names its parent by bare volume UUID; preallocated volumes are allocated", async () => {
  const base = await create();
  const top = await create({ img: base.img, parent: base.vol });
  const i = info(top.path);
  assert.equal(i["backing-filename"], base.vol);
  assert.equal(i["backing-filename-format"], "qcow2");
  assert.equal(i["virtual-size"], GiB);

  const raw = await create({ format: 5, prealloc: 1 });
  assert.equal(info(raw.path).format, "raw");
  assert.ok((info(raw.path)["actual-size"] as number) >= GiB, "RAW+PREALLOCATED is allocated");
  const cowPre = await create({ prealloc: 1 });
  assert.equal(info(cowPre.path).format, "qcow2");
  assert.ok((info(cowPre.path)["actual-size"] as number) >= GiB, "COW+PREALLOCATED is allocated");
});

test("the daemon keeps no volume open after its creates", () => {
  const [pid] = daemonsOf(node.proc.pid!);
  assert.ok(pid);
  const open = readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return "";
    }
  });
  assert.deepEqual(
    open.filter((target) => target.startsWith("/") && !target.startsWith("/dev/")),
    [],
    "files the daemon still holds",
  );
});

test("a killed daemon costs nothing: creates go on and the daemon is started again", async () => {
  const [pid] = daemonsOf(node.proc.pid!);
  assert.ok(pid);
  process.kill(pid, "SIGKILL");
  await new Promise((r) => setTimeout(r, 200));
  const v = await create();
  assert.equal(info(v.path).format, "qcow2");
  const now = daemonsOf(node.proc.pid!);
  assert.equal(now.length, 1, "a new daemon runs");
  assert.notEqual(now[0], pid);
});

test("kill -9 of the agent takes its daemon along", async () => {
  const other = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
  const agentPid = other.proc.pid!;
  const [pid] = daemonsOf(agentPid);
  assert.ok(pid, "the second agent has its own daemon");
  await other.kill("SIGKILL");
  const deadline = Date.now() + 5_000;
  while (existsPid(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(existsPid(pid), false, "the daemon died with its agent");
});

function existsPid(pid: number): boolean {
  try {
    // A zombie has not been reaped by init yet but runs no more.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
