/**
 * Benchmark (issue 3): copyImage through the node's API (JSON-RPC, waited to task completion) of a
 * 2 GiB qcow2 image holding 1 GiB of data, against a bare `qemu-img convert` of the same image to
 * the same file system in the same run. Runs each case R times (order rotating each round, a
 * `sync` before every run) and reports the best.
 * One line per case, then the ratios. Target ≤ 1.1×.
 *
 * Baselines: `qemu-img convert` with its defaults (target cache "unsafe": it exits with the copy
 * still in the page cache, never flushed — what a storage task may not report as done), the same
 * with `-t writeback` (identical, plus the flush before exit: the durable baseline), and
 * `-t none -T none` (O_DIRECT, what VDSM runs on shared block storage). The node copies file
 * domains with writeback caching and its flush.
 *   node bench/dist/src/copy-image.js [R=3]
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NodeProc, setupLocalPool, startNode, waitTask } from "@vela/node/test/harness";

const R = Number(process.argv[2] ?? 3);

/**
 * Waits for a long task as a client would: polls often at first, then every 20 ms (a poll is a
 * sub-millisecond request, so this takes no measurable CPU from the copy, and the figure is at
 * most 20 ms late rather than the 50 ms of a coarser poll, on a ~1 s copy).
 */
async function waitLong(node: NodeProc, id: string): Promise<{ taskResult: string; message: string }> {
  const t0 = Date.now();
  for (;;) {
    const st = (await node.json("Task.getStatus", { taskID: id })) as { taskState: string; taskResult: string; message: string };
    if (st.taskState === "finished") return st;
    await new Promise((r) => setTimeout(r, Date.now() - t0 < 200 ? 5 : 20));
  }
}
const GiB = 2 ** 30;

async function main() {
  const base = mkdtempSync(join(tmpdir(), "vela-bench-copy-"));
  const node = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
  try {
    const pool = await setupLocalPool(node, mkdtempSync(join(base, "sd-")));
    const img = randomUUID();
    const vol = randomUUID();
    const t0 = (await node.json("Volume.create", {
      storagedomainID: pool.sdUUID,
      storagepoolID: pool.spUUID,
      imageID: img,
      volumeID: vol,
      size: 2 * GiB,
      volFormat: 4,
      preallocate: 2,
      diskType: "DATA",
      desc: "bench source",
    })) as string;
    await waitTask(node, t0);
    const src = join(pool.domainDir, "images", img, vol);
    // 1 GiB of data in 64 MiB runs with distinct patterns (nothing qemu-img can skip as zero).
    const cmds = Array.from({ length: 16 }, (_, i) => ["-c", `write -P ${0x40 + i} ${i * 64 * 2 ** 20} ${64 * 2 ** 20}`]).flat();
    execFileSync("qemu-io", ["-f", "qcow2", ...cmds, src], { stdio: "ignore" });
    const bareDir = mkdtempSync(join(pool.dir, "bare-"));

    const bare = (flags: string[]) => async () => {
      const out = join(bareDir, "copy");
      const t = performance.now();
      execFileSync("qemu-img", ["convert", ...flags, "-f", "qcow2", "-O", "qcow2", "-o", "compat=1.1", src, out]);
      const ms = performance.now() - t;
      rmSync(out);
      return ms;
    };
    const vela = async () => {
      const dstImg = randomUUID();
      const t = performance.now();
      const task = (await node.json("Volume.copy", {
        storagedomainID: pool.sdUUID,
        storagepoolID: pool.spUUID,
        imageID: img,
        volumeID: vol,
        dstImgUUID: dstImg,
        dstVolUUID: randomUUID(),
        desc: "bench copy",
        volType: 8,
        volFormat: 4,
        preallocate: 2,
      })) as string;
      const st = await waitLong(node, task);
      const ms = performance.now() - t;
      if (st.taskResult !== "success") throw new Error(`copyImage failed: ${st.message}`);
      const d = (await node.json("Image.delete", { storagedomainID: pool.sdUUID, storagepoolID: pool.spUUID, imageID: dstImg })) as string;
      await waitTask(node, d);
      return ms;
    };
    const cases = [
      { name: "bare-unflushed", run: bare([]) },
      { name: "bare-flushed", run: bare(["-t", "writeback"]) },
      // O_DIRECT both ways, as VDSM does on shared block storage.
      { name: "bare-o-direct", run: bare(["-t", "none", "-T", "none"]) },
      { name: "vela", run: vela },
    ];
    const best = new Map(cases.map((c) => [c.name, Infinity]));
    for (let r = 0; r < R; r++) {
      // Each run starts with no dirty data from the one before (an unflushed copy's writeback
      // would otherwise land on whoever runs next), and the order rotates every round.
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + r) % cases.length]!;
        execFileSync("sync");
        best.set(c.name, Math.min(best.get(c.name)!, await c.run()));
      }
    }
    const bareBest = best.get("bare-unflushed")!;
    const flushedBest = best.get("bare-flushed")!;
    const directBest = best.get("bare-o-direct")!;
    const velaBest = best.get("vela")!;
    console.log(`copy-image-bare-qemu-img-convert size=2GiB data=1GiB runs=${R} best_ms=${bareBest.toFixed(0)}`);
    console.log(`copy-image-bare-qemu-img-convert-t-writeback size=2GiB data=1GiB runs=${R} best_ms=${flushedBest.toFixed(0)}`);
    console.log(`copy-image-bare-qemu-img-convert-t-none size=2GiB data=1GiB runs=${R} best_ms=${directBest.toFixed(0)}`);
    console.log(`copy-image-vela-node-api size=2GiB data=1GiB runs=${R} best_ms=${velaBest.toFixed(0)}`);
    console.log(`copy-image-ratio vela/bare-flushed=${(velaBest / flushedBest).toFixed(3)} target<=1.1`);
    console.log(`copy-image-ratio vela/bare-unflushed=${(velaBest / bareBest).toFixed(3)}`);
    console.log(`copy-image-ratio vela/bare-o-direct=${(velaBest / directBest).toFixed(3)}`);
  } finally {
    await node.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
