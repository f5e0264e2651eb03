/**
 * Benchmark (issue 3): create / snapshot / delete throughput through the node's API (JSON-RPC,
 * each call waited to task completion, as the engine does) against the bare commands doing the
 * same to the same file system in the same run: `qemu-img create`, `qemu-img create -b`, `rm`.
 * Bare and Vela ops alternate. One line per case, then the ratios. Target ≤ 1.3×.
 * Last, 20 creates on distinct images in parallel vs the same 20 one after another through the
 * API (the seed's "operations do not block each other"; the gain is bounded by free cores).
 *   node bench/dist/src/storage-ops.js [N=100]
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setupLocalPool, startNode, waitTask } from "@vela/node/test/harness";
import { alternate } from "./lib/alternate.js";

const N = Number(process.argv[2] ?? 100);
const SIZE = 2 ** 30;

async function main() {
  const base = mkdtempSync(join(tmpdir(), "vela-bench-ops-"));
  const node = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
  try {
    const pool = await setupLocalPool(node, mkdtempSync(join(base, "sd-")));
    const bare = mkdtempSync(join(base, "bare-"));
    const qcreate = (path: string, backing?: string) =>
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "compat=1.1", ...(backing ? ["-u", "-b", backing, "-F", "qcow2"] : []), path, String(SIZE)]);
    qcreate(join(bare, "warm"));

    const call = async (method: string, params: Record<string, unknown>) => {
      const task = (await node.json(method, params)) as string;
      const st = await waitTask(node, task);
      if (st.taskResult !== "success") throw new Error(`${method} failed: ${st.message}`);
    };
    const imgs = Array.from({ length: N }, () => ({ img: randomUUID(), base: randomUUID(), top: randomUUID() }));
    const common = { storagedomainID: pool.sdUUID, storagepoolID: pool.spUUID, size: SIZE, volFormat: 4, preallocate: 2, diskType: "DATA", desc: "bench" };

    // one bare op and one Vela op in turn, each timed on its own (lib/alternate.ts)
    const pair = (bareOp: (i: number) => unknown, velaOp: (i: number) => Promise<unknown>) => alternate(N, bareOp, velaOp);
    const results: [string, number, number][] = [];
    // Warm-up of the API path (first task, JIT) outside the measurement.
    await call("Volume.create", { ...common, imageID: randomUUID(), volumeID: randomUUID() });

    results.push([
      "create",
      ...(await pair(
        (i) => {
          mkdirSync(join(bare, imgs[i].img));
          qcreate(join(bare, imgs[i].img, imgs[i].base));
        },
        (i) => call("Volume.create", { ...common, imageID: imgs[i].img, volumeID: imgs[i].base }),
      )),
    ]);
    results.push([
      "snapshot",
      ...(await pair(
        (i) => qcreate(join(bare, imgs[i].img, imgs[i].top), imgs[i].base),
        (i) => call("Volume.create", { ...common, imageID: imgs[i].img, volumeID: imgs[i].top, srcImgUUID: imgs[i].img, srcVolUUID: imgs[i].base }),
      )),
    ]);
    results.push([
      "delete-image",
      ...(await pair(
        (i) => execFileSync("rm", ["-rf", join(bare, imgs[i].img)]),
        (i) => call("Image.delete", { storagedomainID: pool.sdUUID, storagepoolID: pool.spUUID, imageID: imgs[i].img }),
      )),
    ]);

    for (const [name, b, v] of results) {
      console.log(`storage-ops-${name}-bare n=${N} total_ms=${b.toFixed(0)} per_op_ms=${(b / N).toFixed(2)}`);
      console.log(`storage-ops-${name}-vela n=${N} total_ms=${v.toFixed(0)} per_op_ms=${(v / N).toFixed(2)}`);
    }
    for (const [name, b, v] of results) console.log(`storage-ops-${name}-ratio vela/bare=${(v / b).toFixed(3)} target<=1.3`);

    const burst = async (parallel: boolean): Promise<number> => {
      const ids = Array.from({ length: 20 }, () => ({ ...common, imageID: randomUUID(), volumeID: randomUUID() }));
      const t = performance.now();
      if (parallel) await Promise.all(ids.map((p) => call("Volume.create", p)));
      else for (const p of ids) await call("Volume.create", p);
      return performance.now() - t;
    };
    const serial = await burst(false);
    const parallel = await burst(true);
    console.log(`storage-ops-20-creates-serial total_ms=${serial.toFixed(0)}`);
    console.log(`storage-ops-20-creates-parallel total_ms=${parallel.toFixed(0)} parallel/serial=${(parallel / serial).toFixed(3)}`);
  } finally {
    await node.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
