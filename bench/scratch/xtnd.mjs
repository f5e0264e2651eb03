// scratch: the xtnd path's parts without a guest (not committed)
import { randomUUID } from "node:crypto";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { LunSet } from "/work/wt/block2/packages/node/dist/test/block-support.js";
import { startNode, waitTask } from "/work/wt/block2/packages/node/dist/test/harness.js";
import { waitFor } from "/work/wt/block2/packages/node/dist/test/virt-support.js";
const GiB = 2 ** 30, N = Number(process.argv[2] ?? 10);
const luns = new LunSet();
const hosts = [];
const lines = (n, msg) => n.output().split("\n").filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l));
try {
  luns.add("lun", 40 * GiB);
  const env = (p) => ({ VELA_NODE_TLS: "off", VELA_LOG_LEVEL: process.env.LL ?? "debug", VELA_NODE_LUN_DIRS: luns.dir, VELA_NODE_BLOCK_PATH: "loop", VELA_NODE_THIN_CHUNK_MIB: "128", VELA_NODE_SPM_AUTO: "1", VELA_NODE_SPM_PRIORITY: String(p) });
  hosts.push(...(await Promise.all([10, 0].map((p) => startNode({ env: env(p) })))));
  const [h1, h2] = hosts;
  const sd = randomUUID(), sp = randomUUID();
  const ok = async (r) => { const x = await r; if (x.status.code) throw new Error(x.status.message); return x; };
  const guid = (await ok(h1.xml("getDeviceList"))).devList[0].GUID;
  const vgUUID = (await ok(h1.xml("createVG", sd, [guid], false))).uuid;
  await ok(h1.xml("createStorageDomain", 3, sd, "x", vgUUID, 1, 5));
  await ok(h1.xml("createStoragePool", 0, sp, "x", sd, [sd], 1, "", 5, 60, 10, 3));
  for (let i = 0; i < 2; i++) await ok(hosts[i].xml("connectStoragePool", sp, i + 1, "", sd, 1));
  await waitFor("SPM", async () => (await h1.json("StoragePool.getSpmStatus", { storagepoolID: sp })).spmStatus === "SPM" || undefined, 180_000, 250);
  const img = randomUUID(), vol = randomUUID();
  const st = await waitTask(h1, (await ok(h1.xml("createVolume", sd, sp, img, 30 * GiB, 4, 2, "DATA", vol, "", BLANK, BLANK))).uuid, 300_000);
  if (st.taskResult !== "success") throw new Error(st.message);
  const at1 = h1.output().length;
  const xs = [];
  for (let i = 1; i <= N; i++) {
    const r = await h2.json("StoragePool.mailboxRequest", { storagepoolID: sp, op: "xtnd", storagedomainID: sd, volumeID: vol, sizeMiB: 128 + i * 128, timeoutMs: 120_000 });
    xs.push(Math.round(r.elapsedMs));
  }
  console.log("xtnd elapsed", xs.join(" "));
  console.log("handled ms", lines(h1, "extend request handled").map((l) => l.ms).join(" "));
  const cmds = h1.output().slice(at1).split("\n").filter((l) => l.includes('"msg":"command"')).map((l) => JSON.parse(l));
  const by = {}; for (const j of cmds) { const k = j.argv[0] === "lvm" ? "lvm " + j.argv[1] : j.argv[0] + " " + (j.argv[1] ?? ""); by[k] ??= []; by[k].push(j.ms); }
  for (const [k, v] of Object.entries(by)) console.log(k, v.length, v.slice(0, 12).join(" "));
} finally {
  for (const h of hosts) await h.stop().catch(() => {});
  for (const h of hosts) for (const m of (await import("node:fs")).readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "")) if (m.startsWith(`${h.runDir}/`)) (await import("node:child_process")).execFileSync("umount", ["-l", m]);
  luns.cleanup();
}
