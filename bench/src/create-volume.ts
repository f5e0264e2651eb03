/**
 * Benchmark (issue 2a): N createVolume calls through the node's API (JSON-RPC, each waited to
 * completion, as the engine does) against N bare `qemu-img create` runs of the same volumes, in the
 * same run on the same disk, alternating one of each. Prints one line per case and the ratio.
 *   node bench/dist/src/create-volume.js [N=200]
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setupLocalPool, startNode, waitTask } from "@vela/node/test/harness";

const N = Number(process.argv[2] ?? 200);
const SIZE = 2 ** 30;

async function main() {
  const base = mkdtempSync(join(tmpdir(), "vela-bench-"));
  const node = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
  try {
    const pool = await setupLocalPool(node, mkdtempSync(join(base, "sd-")));
    const bare = mkdtempSync(join(base, "bare-"));

    // Warm-up of both paths so neither pays first-run costs.
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "compat=1.1", join(bare, "warm"), String(SIZE)]);

    // Bare and Vela ops alternate, each timed on its own: run as two blocks, the second block
    // would pay the first one's writeback (the node fsyncs its metadata; qemu-img create does
    // not), and load from other work would fall on one side only.
    let bareMs = 0;
    let velaMs = 0;
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "compat=1.1", join(bare, `v${i}`), String(SIZE)]);
      bareMs += performance.now() - t;
      t = performance.now();
      const task = (await node.json("Volume.create", {
        storagedomainID: pool.sdUUID,
        storagepoolID: pool.spUUID,
        imageID: randomUUID(),
        volumeID: randomUUID(),
        size: SIZE,
        volFormat: 4,
        preallocate: 2,
        diskType: "DATA",
        desc: "bench",
      })) as string;
      const st = await waitTask(node, task);
      if (st.taskResult !== "success") throw new Error(`createVolume failed: ${st.message}`);
      velaMs += performance.now() - t;
    }

    console.log(`createVolume-bare-qemu-img n=${N} total_ms=${bareMs.toFixed(0)} per_op_ms=${(bareMs / N).toFixed(2)}`);
    console.log(`createVolume-vela-node-api n=${N} total_ms=${velaMs.toFixed(0)} per_op_ms=${(velaMs / N).toFixed(2)}`);
    console.log(`createVolume-ratio vela/bare=${(velaMs / bareMs).toFixed(3)} target<=1.3`);
  } finally {
    await node.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
