// scratch: counts the agent's commands per block op (not committed)
import { randomUUID } from "node:crypto";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { LunSet } from "/work/wt/block2/packages/node/dist/test/block-support.js";
import { startNode, waitTask } from "/work/wt/block2/packages/node/dist/test/harness.js";
import { waitFor } from "/work/wt/block2/packages/node/dist/test/virt-support.js";
const GiB = 2 ** 30;
const luns = new LunSet();
let node;
function stats(from) {
  const lines = node.output().slice(from).split("\n").filter((l) => l.includes('"msg":"command"'));
  const by = {};
  for (const l of lines) { const j = JSON.parse(l); const k = j.argv[0] === "lvm" ? "lvm " + j.argv[1] : j.argv[0] + " " + (j.argv[1] ?? ""); by[k] ??= [0, 0]; by[k][0]++; by[k][1] += j.ms; }
  return by;
}
try {
  luns.add("lun", 40 * GiB);
  node = await startNode({ env: { VELA_NODE_TLS: "off", VELA_LOG_LEVEL: "debug", VELA_NODE_LUN_DIRS: luns.dir, VELA_NODE_BLOCK_PATH: "loop", VELA_NODE_THIN_CHUNK_MIB: "256" } });
  const n = node;
  const sd = randomUUID(), sp = randomUUID();
  const ok = async (r) => { const x = await r; if (x.status.code) throw new Error(x.status.message); return x; };
  const guid = (await ok(n.xml("getDeviceList"))).devList[0].GUID;
  const vgUUID = (await ok(n.xml("createVG", sd, [guid], false))).uuid;
  await ok(n.xml("createStorageDomain", 3, sd, "ops", vgUUID, 1, 5));
  await ok(n.xml("createStoragePool", 0, sp, "ops", sd, [sd], 1));
  await ok(n.xml("connectStoragePool", sp, 1, "", sd, 1));
  await waitTask(n, (await ok(n.xml("spmStart", sp, -1, "-1", 0, false))).uuid, 120_000);
  await waitFor("SPM", async () => (await n.json("StoragePool.getSpmStatus", { storagepoolID: sp })).spmStatus === "SPM" || undefined, 120_000, 250);
  const call = async (r) => { const st = await waitTask(n, (await ok(r)).uuid, 300_000); if (st.taskResult !== "success") throw new Error(st.message); };
  const createVol = (img, vol, parent) => n.xml("createVolume", sd, sp, img, GiB, 4, 2, "DATA", vol, "", parent ? img : BLANK, parent ?? BLANK);
  const { execFileSync, spawn } = await import("node:child_process");
  const pid = execFileSync("sh", ["-c", `ps -eo pid,args | grep "${n.runDir}" | grep -v grep | grep node | awk '{print $1}' | head -1`], { encoding: "utf8" }).trim() || execFileSync("sh", ["-c", `for p in $(pgrep -f "packages/node/dist/src/main.js"); do grep -qa "${n.runDir}" /proc/$p/environ && echo $p; done | head -1`], { encoding: "utf8" }).trim();
  console.log("node pid", pid);
  for (let i = 0; i < 3; i++) {
    const st = spawn("strace", ["-f", "-T", "-e", "trace=fsync,fdatasync", "-o", `/tmp/b2exp/st-${i}.txt`, "-p", pid]);
    await new Promise((r) => setTimeout(r, 500));
    const img = randomUUID(), base = randomUUID(), top = randomUUID();
    let at = n.output().length, t = performance.now();
    await call(createVol(img, base));
    console.log("create", (performance.now() - t).toFixed(0), JSON.stringify(stats(at)));
    at = n.output().length; t = performance.now();
    await call(createVol(img, top, base));
    console.log("snap", (performance.now() - t).toFixed(0), JSON.stringify(stats(at)));
    at = n.output().length; t = performance.now();
    await call(n.xml("deleteImage", sd, sp, img, false, false));
    console.log("delete", (performance.now() - t).toFixed(0), JSON.stringify(stats(at)));
    st.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 300));
  }
  const at = n.output().length; await new Promise((r) => setTimeout(r, 10000));
  console.log("idle 10s", JSON.stringify(stats(at)));
} finally {
  await node?.stop();
  luns.cleanup();
}
