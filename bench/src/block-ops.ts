/**
 * Benchmark (issue 11): thin volume create / snapshot / delete on a block domain through the
 * node's API (XML-RPC, each call waited to task completion, as the engine does) against the bare
 * commands doing the same on the same VG in the same run, one of each alternately:
 *   create    bare: lvcreate of one chunk on chosen extents + loop device over it + qemu-img create + detach
 *   snapshot  bare: the same with `qemu-img create -b <base> -u`
 *   delete    bare: lvremove of both LVs; Vela: deleteImage (tags, slots cleared, lvremove)
 * One line per case, then the ratios. Target ≤ 1.3×.
 *   node bench/dist/src/block-ops.js [N=20] [steps]
 * With `steps`, the agent logs at debug level and the bench prints, per operation, the median of
 * each step of its job (block/steps.ts) and of each command the agent ran: where the time goes.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { LunSet } from "@vela/node/test/block-support";
import { type NodeProc, startNode, waitTask } from "@vela/node/test/harness";
import { waitFor } from "@vela/node/test/virt-support";
import { alternate } from "./lib/alternate.js";

const N = Number(process.argv[2] ?? 20);
const STEPS = process.argv[3] === "steps";
const GiB = 2 ** 30;
const CHUNK_MIB = 256;
type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

async function ok(n: NodeProc, r: Promise<Resp>, what: string): Promise<Resp> {
  const res = await r;
  if (res.status.code !== 0) throw new Error(`${what}: ${res.status.message}\n${n.output().slice(-2000)}`);
  return res;
}

async function main(): Promise<void> {
  const luns = new LunSet();
  const bareLuns = new LunSet();
  let node: NodeProc | undefined;
  const load0 = execFileSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).split(" ").slice(0, 3).join("/");
  try {
    luns.add("lun", 40 * GiB);
    // Plain HTTP to the agent: a bench has no test CA (the wire is not what is measured).
    node = await startNode({ env: { VELA_NODE_TLS: "off", VELA_LOG_LEVEL: STEPS ? "debug" : "warn", VELA_NODE_LUN_DIRS: luns.dir, VELA_NODE_BLOCK_PATH: "loop", VELA_NODE_THIN_CHUNK_MIB: String(CHUNK_MIB) } });
    const n = node;
    const sd = randomUUID();
    const sp = randomUUID();
    const guid = ((await ok(n, n.xml("getDeviceList") as Promise<Resp>, "getDeviceList")).devList as { GUID: string }[])[0]!.GUID;
    const vgUUID = (await ok(n, n.xml("createVG", sd, [guid], false) as Promise<Resp>, "createVG")).uuid as string;
    await ok(n, n.xml("createStorageDomain", 3, sd, "ops bench", vgUUID, 1, 5) as Promise<Resp>, "createStorageDomain");
    await ok(n, n.xml("createStoragePool", 0, sp, "ops bench", sd, [sd], 1) as Promise<Resp>, "createStoragePool");
    await ok(n, n.xml("connectStoragePool", sp, 1, "", sd, 1) as Promise<Resp>, "connectStoragePool");
    await waitTask(n, (await ok(n, n.xml("spmStart", sp, -1, "-1", 0, false) as Promise<Resp>, "spmStart")).uuid as string, 120_000);
    await waitFor("SPM", async () => ((await n.json("StoragePool.getSpmStatus", { storagepoolID: sp })) as { spmStatus: string }).spmStatus === "SPM" || undefined, 120_000, 250);

    const call = async (what: string, r: Promise<Resp>) => {
      const st = await waitTask(n, (await ok(n, r, what)).uuid as string, 300_000);
      if (st.taskResult !== "success") throw new Error(`${what}: ${st.message}`);
    };
    // Bare LVs in a VG of their own on an identical LUN (same extent size), two extents each.
    const bvg = `bare-${randomUUID().slice(0, 8)}`;
    const blun = bareLuns.add("bare", 40 * GiB);
    bareLuns.lvm("pvcreate", "-q", blun.device);
    bareLuns.lvm("vgcreate", "-q", "-s", "128m", bvg, blun.device);
    const ext = Number(bareLuns.lvm("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_extent_size", bvg).trim());
    const peStart = Number(bareLuns.lvm("pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start", blun.device).trim());
    const count = (CHUNK_MIB * 2 ** 20) / ext;
    let nextPe = 40;
    const bareCreate = (name: string, backing?: string) => {
      const first = nextPe;
      nextPe += count;
      bareLuns.lvm("lvcreate", "-an", "-Zn", "-Wn", "-l", String(count), "-n", name, bvg, `${blun.device}:${first}-${first + count - 1}`);
      const loop = execFileSync("losetup", ["--find", "--show", "--direct-io=on", "--offset", String(peStart + first * ext), "--sizelimit", String(count * ext), blun.device], { encoding: "utf8" }).trim();
      try {
        execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "compat=1.1", ...(backing ? ["-u", "-b", backing, "-F", "qcow2"] : []), loop, String(GiB)]);
      } finally {
        execFileSync("losetup", ["--detach", loop]);
      }
    };
    const ids = Array.from({ length: N }, () => ({ img: randomUUID(), base: randomUUID(), top: randomUUID(), bb: `b${randomUUID().slice(0, 8)}`, bt: `t${randomUUID().slice(0, 8)}` }));
    const createVol = (img: string, vol: string, parent?: string) => n.xml("createVolume", sd, sp, img, GiB, 4, 2, "DATA", vol, "", parent ? img : BLANK, parent ?? BLANK) as Promise<Resp>;
    // Warm-up outside the measurement (first task, first lvm run).
    const w = randomUUID();
    await call("warm-up", createVol(w, randomUUID()));
    await call("warm-up delete", n.xml("deleteImage", sd, sp, w, false, false) as Promise<Resp>);

    // one bare op and one Vela op in turn, each timed on its own (lib/alternate.ts)
    const pair = (bareOp: (i: number) => unknown, velaOp: (i: number) => Promise<unknown>) => alternate(N, bareOp, velaOp);
    const results: [string, number, number][] = [];
    results.push(["create", ...(await pair((i) => bareCreate(ids[i]!.bb), (i) => call("create", createVol(ids[i]!.img, ids[i]!.base))))]);
    results.push(["snapshot", ...(await pair((i) => bareCreate(ids[i]!.bt, ids[i]!.bb), (i) => call("snapshot", createVol(ids[i]!.img, ids[i]!.top, ids[i]!.base))))]);
    results.push([
      "delete-image",
      ...(await pair(
        (i) => void bareLuns.lvm("lvremove", "-f", `${bvg}/${ids[i]!.bt}`, `${bvg}/${ids[i]!.bb}`),
        (i) => call("delete", n.xml("deleteImage", sd, sp, ids[i]!.img, false, false) as Promise<Resp>),
      )),
    ]);
    const load1 = execFileSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).split(" ").slice(0, 3).join("/");
    for (const [name, b, v] of results) {
      console.log(`block-ops-${name}-bare n=${N} per_op_ms=${(b / N).toFixed(1)}`);
      console.log(`block-ops-${name}-vela n=${N} per_op_ms=${(v / N).toFixed(1)}`);
    }
    if (STEPS) printSteps(n.output());
    for (const [name, b, v] of results) console.log(`block-ops-${name}-ratio vela/bare=${(v / b).toFixed(3)} target<=1.3 load=${load0},${load1}`);
  } finally {
    await node?.stop();
    for (const m of execFileSync("cat", ["/proc/self/mounts"], { encoding: "utf8" }).split("\n").map((l) => l.split(" ")[1] ?? "")) {
      if (node && m.startsWith(`${node.runDir}/`)) execFileSync("umount", ["-l", m]);
    }
    luns.cleanup();
    bareLuns.cleanup();
  }
}

/** Medians of each job step (the agents' "<verb> steps" lines) and of each command's time. */
function printSteps(log: string): void {
  const byJob = new Map<string, Map<string, number[]>>();
  const cmds = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const line of log.split("\n")) {
    if (!line.startsWith("{")) continue;
    const rec = JSON.parse(line) as { msg?: string; steps?: Record<string, number>; totalMs?: number; argv?: string[]; ms?: number; shell?: boolean };
    if (rec.steps && rec.msg) {
      const m = byJob.get(rec.msg) ?? new Map<string, number[]>();
      byJob.set(rec.msg, m);
      for (const [k, v] of Object.entries(rec.steps)) add(m, k, v);
      add(m, "total", rec.totalMs ?? 0);
    } else if (rec.msg === "command" && rec.argv && rec.ms !== undefined) add(cmds, `${rec.shell ? "shell " : ""}${rec.argv.slice(0, rec.argv[0] === "lvm" ? 2 : 1).join(" ")}`, rec.ms);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [job, m] of byJob) console.log(`block-ops-steps ${job} n=${m.get("total")?.length} ${[...m].map(([k, xs]) => `${k}=${med(xs).toFixed(1)}`).join(" ")}`);
  for (const [c, xs] of cmds) console.log(`block-ops-command "${c}" n=${xs.length} p50_ms=${med(xs)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
