/**
 * Benchmark (issue 2b): engine process start → first 200 from the REST API, and idle RSS, with
 * the embedded SQLite database; first start (fresh VELA_HOME: migrations run) and restart.
 * The baseline in the same run is a bare `node -e` that starts and answers HTTP (the runtime's
 * own floor).
 *   node bench/dist/src/engine-start.js [runs=5]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENGINE_MAIN } from "@vela/cli/paths";
import { freePort } from "@vela/node/test/harness";

const RUNS = Number(process.argv[2] ?? 5);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function timeToFirst200(argv: string[], env: NodeJS.ProcessEnv, url: string, headers: Record<string, string>) {
  const t0 = performance.now();
  const proc = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: "ignore" });
  for (;;) {
    try {
      const res = await fetch(url, { headers });
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 2000));
  const rss = rssMiB(proc.pid!);
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  return { ms, rss };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), "vela-bench-engine-"));
  const password = "bench-password";
  const auth = { authorization: `Basic ${Buffer.from(`admin@internal:${password}`).toString("base64")}` };
  try {
    const bare: number[] = [];
    const first: { ms: number; rss: number }[] = [];
    const again: { ms: number; rss: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const port = await freePort();
      const b = await timeToFirst200(
        ["-e", `require("http").createServer((q,s)=>s.end("ok")).listen(${port},"127.0.0.1")`],
        {},
        `http://127.0.0.1:${port}/`,
        {},
      );
      bare.push(b.ms);
      const fresh = join(home, `fresh-${i}`);
      const env = { VELA_HOME: fresh, VELA_ENGINE_PORT: String(port), VELA_ADMIN_PASSWORD: password, VELA_LOG_LEVEL: "warn" };
      first.push(await timeToFirst200([ENGINE_MAIN], env, `http://127.0.0.1:${port}/ovirt-engine/api`, auth));
      again.push(await timeToFirst200([ENGINE_MAIN], env, `http://127.0.0.1:${port}/ovirt-engine/api`, auth));
    }
    console.log(`engine-start-bare-node-http runs=${RUNS} median_ms=${median(bare).toFixed(0)}`);
    console.log(`engine-start-fresh-db runs=${RUNS} median_ms=${median(first.map((x) => x.ms)).toFixed(0)} target<=1000`);
    console.log(`engine-start-existing-db runs=${RUNS} median_ms=${median(again.map((x) => x.ms)).toFixed(0)} target<=1000`);
    console.log(`engine-idle-rss runs=${RUNS} median_mib=${median(again.map((x) => x.rss)).toFixed(1)} target<=150`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
