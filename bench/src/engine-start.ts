/**
 * Benchmark (issues 2b, 12): engine process start → first 200 from the REST API, and idle RSS, on
 * the embedded SQLite database and on PostgreSQL (a private server from the engine's test kit,
 * a fresh database per first start); first start (migrations run) and restart. The baseline in
 * the same run is a bare `node -e` that starts and answers HTTP, and one that answers HTTPS (the
 * runtime's own floor). Runs interleave the cases, so load from other work on the box falls on all
 * alike. The engine is started as `vela up` and the Debian package start it: its bundle
 * (packages/engine/build.mjs). The database cases run it over plain HTTP (`VELA_ENGINE_TLS=off`,
 * against the bare HTTP server, as the earlier figures); the `sqlite-tls-*` cases run it as users
 * get it, HTTPS with its own CA (made on the first start), against the bare HTTPS server.
 * Each line also gives the process's CPU time (user + system) when the 200 came, `cpu_ms`, and its
 * excess over the bare server's: on a box shared with other work the wall times stretch with the
 * load, the CPU a start needs much less.
 *   node bench/dist/src/engine-start.js [runs=5]
 */
import { execFileSync, spawn } from "node:child_process";
import { request } from "node:https";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENGINE_BUNDLE } from "@vela/cli/paths";
import { pgServer } from "@vela/engine/dist/test/pg.js";
import { freePort } from "@vela/node/test/harness";
import { cpuSeconds } from "./lib/proc.js";

const RUNS = Number(process.argv[2] ?? 5);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

interface Sample {
  ms: number;
  rss: number;
  /** CPU time (user + system) of the process when the 200 came. */
  cpu: number;
}

/** The status of a GET; HTTPS without checking the certificate (readiness is timed, not trust). */
async function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  if (!url.startsWith("https:")) return (await fetch(url, { headers })).status;
  return new Promise((res, rej) => {
    const req = request(url, { headers, rejectUnauthorized: false }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    });
    req.once("error", rej);
    req.end();
  });
}

async function timeToFirst200(argv: string[], env: NodeJS.ProcessEnv, url: string, headers: Record<string, string>): Promise<Sample> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${argv.join(" ")} exited ${proc.exitCode}: ${err.slice(-2000)}`);
    if (performance.now() - t0 > 120_000) {
      proc.kill("SIGKILL");
      throw new Error(`${url} gave no 200 within 120 s; the engine's stderr: ${err.slice(-2000)}`);
    }
    try {
      if ((await statusOf(url, headers)) === 200) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  const cpu = Math.round(cpuSeconds(proc.pid!) * 1000);
  await new Promise((r) => setTimeout(r, 2000));
  const rss = rssMiB(proc.pid!);
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  return { ms, rss, cpu };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), "vela-bench-engine-"));
  const password = "bench-password";
  const auth = { authorization: `Basic ${Buffer.from(`admin@internal:${password}`).toString("base64")}` };
  const pg = pgServer();
  // The bare HTTPS server's key and self-signed certificate (RSA 2048, as the engine's).
  const [key, cert] = [join(home, "bare.key"), join(home, "bare.pem")];
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], { stdio: "ignore" });
  try {
    const bare: Sample[] = [];
    const bareTls: Sample[] = [];
    const cases: Record<string, Sample[]> = {
      "sqlite-fresh": [],
      "sqlite-existing": [],
      "postgres-fresh": [],
      "postgres-existing": [],
      "sqlite-tls-fresh": [],
      "sqlite-tls-existing": [],
    };
    for (let i = 0; i < RUNS; i++) {
      const port = await freePort();
      const b = await timeToFirst200(
        ["-e", `require("http").createServer((q,s)=>s.end("ok")).listen(${port},"127.0.0.1")`],
        {},
        `http://127.0.0.1:${port}/`,
        {},
      );
      bare.push(b);
      const bt = await timeToFirst200(
        ["-e", `const f=require("fs");require("https").createServer({key:f.readFileSync(${JSON.stringify(key)}),cert:f.readFileSync(${JSON.stringify(cert)})},(q,s)=>s.end("ok")).listen(${port},"127.0.0.1")`],
        {},
        `https://127.0.0.1:${port}/`,
        {},
      );
      bareTls.push(bt);
      const api = `http://127.0.0.1:${port}/ovirt-engine/api`;
      for (const db of ["sqlite", "postgres"] as const) {
        const env: NodeJS.ProcessEnv = {
          VELA_HOME: join(home, `${db}-${i}`),
          VELA_ENGINE_PORT: String(port),
          VELA_ENGINE_TLS: "off",
          VELA_ADMIN_PASSWORD: password,
          VELA_LOG_LEVEL: "warn",
        };
        if (db === "postgres") env.VELA_DB_URL = await pg.createDatabase("bench");
        cases[`${db}-fresh`]!.push(await timeToFirst200([ENGINE_BUNDLE], env, api, auth));
        cases[`${db}-existing`]!.push(await timeToFirst200([ENGINE_BUNDLE], env, api, auth));
      }
      const tls: NodeJS.ProcessEnv = { VELA_HOME: join(home, `tls-${i}`), VELA_ENGINE_PORT: String(port), VELA_ADMIN_PASSWORD: password, VELA_LOG_LEVEL: "warn" };
      cases["sqlite-tls-fresh"]!.push(await timeToFirst200([ENGINE_BUNDLE], tls, api.replace("http:", "https:"), auth));
      cases["sqlite-tls-existing"]!.push(await timeToFirst200([ENGINE_BUNDLE], tls, api.replace("http:", "https:"), auth));
    }
    const ms = (xs: Sample[]) => median(xs.map((x) => x.ms));
    const cpu = (xs: Sample[]) => median(xs.map((x) => x.cpu));
    console.log(`engine-start-bare-node-http runs=${RUNS} median_ms=${ms(bare).toFixed(0)} cpu_ms=${cpu(bare)}`);
    console.log(`engine-start-bare-node-https runs=${RUNS} median_ms=${ms(bareTls).toFixed(0)} cpu_ms=${cpu(bareTls)}`);
    for (const [name, xs] of Object.entries(cases)) {
      const [base, against] = name.includes("tls") ? [bareTls, "bare_https"] : [bare, "bare_http"];
      console.log(
        `engine-start-${name} runs=${RUNS} median_ms=${ms(xs).toFixed(0)} above_${against}_ms=${(ms(xs) - ms(base)).toFixed(0)} target_above_bare<=500 cpu_ms=${cpu(xs)} cpu_above_${against}_ms=${cpu(xs) - cpu(base)}`,
      );
    }
    for (const db of ["sqlite", "postgres"]) {
      console.log(`engine-idle-rss-${db} runs=${RUNS} median_mib=${median(cases[`${db}-existing`]!.map((x) => x.rss)).toFixed(1)} target<=100`);
    }
  } finally {
    pg.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
