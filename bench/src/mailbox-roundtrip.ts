/**
 * Benchmark (issue 4): round trips through the pool mailbox from a non-SPM host to the SPM and
 * back, through the real dom_md/inbox and outbox files of a shared file domain, between two real
 * agents. `elapsedMs` is measured inside the sending agent (mailbox only); the client-side figure
 * adds the JSON-RPC call. Baseline: VDSM 4.50's published 0.5–1.0 s per round trip with events
 * (2–4 s without). Target p50 ≤ 100 ms.
 *   node bench/dist/src/mailbox-roundtrip.js [N=200]
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { Cluster, createParams } from "@vela/node/test/cluster-support";
import { waitTask } from "@vela/node/test/harness";

const N = Number(process.argv[2] ?? 200);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function line(name: string, xs: number[], extra = ""): string {
  return `${name} n=${xs.length} p50_ms=${pct(xs, 50).toFixed(1)} p99_ms=${pct(xs, 99).toFixed(1)} min_ms=${Math.min(...xs).toFixed(1)} max_ms=${Math.max(...xs).toFixed(1)}${extra}`;
}

async function main() {
  const c = new Cluster({ hosts: 2, leaseTimeSec: 20, renewSec: 5, auto: false, env: { VELA_LOG_LEVEL: "warn" } });
  try {
    await c.start();
    const [spm, host] = c.hosts as [(typeof c.hosts)[0], (typeof c.hosts)[0]];
    const t = (await spm.node.json("StoragePool.spmStart", { storagepoolID: c.spUUID })) as string;
    await waitTask(spm.node, t);
    await c.waitSpm(30_000);
    const img = randomUUID();
    const vol = randomUUID();
    await waitTask(spm.node, (await spm.node.json("Volume.create", createParams(c, img, vol))) as string);

    const send = async (params: Record<string, unknown>) => {
      const t0 = performance.now();
      const r = (await host.node.json("StoragePool.mailboxRequest", { storagepoolID: c.spUUID, ...params })) as { elapsedMs: number; op: string };
      return { inside: r.elapsedMs, client: performance.now() - t0, op: r.op };
    };
    for (let i = 0; i < 10; i++) await send({ op: "ping" }); // warm-up

    const ping = { inside: [] as number[], client: [] as number[] };
    for (let i = 0; i < N; i++) {
      const r = await send({ op: "ping" });
      ping.inside.push(r.inside);
      ping.client.push(r.client);
    }
    const xtnd: number[] = [];
    for (let i = 0; i < Math.max(10, Math.floor(N / 4)); i++) {
      xtnd.push((await send({ op: "xtnd", storagedomainID: c.sdUUID, volumeID: vol, sizeMiB: 32 + i })).inside);
    }
    console.log(line("mailbox-ping-roundtrip", ping.inside, " target_p50<=100 vdsm_4.50_published=500-1000"));
    console.log(line("mailbox-ping-with-jsonrpc", ping.client));
    console.log(line("mailbox-xtnd-roundtrip", xtnd, " (file volume: SPM checks the volume and grants)"));
  } finally {
    await c.stop();
    rmSync(c.dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
