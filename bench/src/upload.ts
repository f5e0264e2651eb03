/**
 * Benchmark (issue 13): upload throughput through the image transfer data path, Vela's client
 * (the portal's algorithm: ranged PUTs of 8 MiB with `flush=n`, four in flight, then a flush) vs `curl -T` of the
 * same file to the same URL, in the same run, taking turns so load drifts hit both alike. Both
 * through the engine's proxy_url (what the portal uses) and straight to the host's transfer_url
 * (curl and the client present the run's client certificate there). Real engine, node, storage.
 * Each case also prints the CPU the engine, the agent and the client spent per upload.
 *   node bench/dist/src/upload.js [MiB=256] [rounds=3]
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { Agent, request as httpsRequest } from "node:https";
import { loadavg } from "node:os";
import { join } from "node:path";
import { cpuSeconds } from "./lib/proc.js";
import { addLocalDomain, firstDcId, hostUp, startEngine, startNode, tempDir, until } from "@vela/engine/dist/test/support.js";
import { clientTls, testPki } from "@vela/testkit/tls";

const MIB = Number(process.argv[2] ?? 256);
const ROUNDS = Number(process.argv[3] ?? 3);
const CHUNK = 8 * 2 ** 20;
/** Ranges in flight at once (the data path's max_writers). */
const WRITERS = 4;
/**
 * A range goes out in writes of this size. One `end(8 MiB buffer)` made Node's TLS copy the whole
 * buffer and encrypt it into freshly allocated memory in one go: ~1.5× the client's CPU per byte
 * of 256 KiB writes (64 KiB writes cost more again: per-write overhead).
 */
const SLICE = 256 * 2 ** 10;

/** One keep-alive agent per kind of connection (with or without the client certificate). */
const agents = new Map<boolean, Agent>();
function agentFor(mtls: boolean): Agent {
  let a = agents.get(mtls);
  if (!a) {
    a = new Agent({ keepAlive: true, ...(mtls ? clientTls() : { ca: clientTls().ca }) });
    agents.set(mtls, a);
  }
  return a;
}

/** One PUT of `body` at `offset` (Content-Range), written in SLICE pieces as the socket drains. */
function put(url: string, body: Buffer, offset: number, mtls: boolean): Promise<void> {
  return new Promise((res, rej) => {
    const req = httpsRequest(
      `${url}?flush=n`,
      {
        method: "PUT",
        agent: agentFor(mtls),
        headers: { "content-length": String(body.length), "content-range": `bytes ${offset}-${offset + body.length - 1}/*` },
      },
      (r) => {
        r.resume();
        r.on("end", () => (r.statusCode === 200 ? res() : rej(new Error(`PUT at ${offset}: HTTP ${r.statusCode}`))));
      },
    );
    req.on("error", rej);
    let at = 0;
    const pump = () => {
      while (at < body.length) {
        const piece = body.subarray(at, Math.min(body.length, at + SLICE));
        at += piece.length;
        if (!req.write(piece)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

function flush(url: string, mtls: boolean): Promise<void> {
  return new Promise((res, rej) => {
    const body = JSON.stringify({ op: "flush" });
    const req = httpsRequest(url, { method: "PATCH", agent: agentFor(mtls), headers: { "content-type": "application/json", "content-length": String(body.length) } }, (r) => {
      r.resume();
      r.on("end", () => (r.statusCode === 200 ? res() : rej(new Error(`flush: HTTP ${r.statusCode}`))));
    });
    req.on("error", rej);
    req.end(body);
  });
}

/**
 * Vela's client: the file in ranges, never read whole, with up to WRITERS ranges in flight (the
 * server's max_writers) so that reading the next range and waiting for an answer overlap sending.
 */
async function vela(url: string, file: string, size: number, mtls: boolean): Promise<number> {
  const t0 = performance.now();
  const fh = await open(file, "r");
  try {
    let next = 0;
    const worker = async () => {
      const buf = Buffer.alloc(CHUNK);
      while (next < size) {
        const off = next;
        next += CHUNK;
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - off), off);
        await put(url, buf.subarray(0, bytesRead), off, mtls);
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, worker));
  } finally {
    await fh.close();
  }
  await flush(url, mtls);
  return (performance.now() - t0) / 1000;
}

/** The baseline: curl uploading the whole file in one PUT (flushed by the server at the end). */
function curl(url: string, file: string, mtls: boolean): number {
  const pki = testPki();
  const auth = mtls ? ["--cert", join(pki, "client.pem"), "--key", join(pki, "client.key")] : [];
  const t0 = performance.now();
  const code = execFileSync("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", join(pki, "ca.pem"), ...auth, "-T", file, url], { encoding: "utf8" });
  if (code !== "200") throw new Error(`curl -T: HTTP ${code}`);
  return (performance.now() - t0) / 1000;
}

interface Run {
  mibs: number;
  engine: number;
  node: number;
  client: number;
}

/** The engine's, the agent's and the client's CPU so far (the client: this process and curl, once reaped). */
function cpuNow(enginePid: number, nodePid: number): { engine: number; node: number; client: number } {
  const u = process.cpuUsage();
  return { engine: cpuSeconds(enginePid), node: cpuSeconds(nodePid), client: (u.user + u.system) / 1e6 + cpuSeconds("self", true) };
}

async function main(): Promise<void> {
  const size = MIB * 2 ** 20;
  const work = tempDir("vela-bench-upload-");
  const file = join(work, "image.raw");
  // Random bytes (nothing compresses or skips), written in pieces.
  const fd = openSync(file, "w");
  for (let off = 0; off < size; off += CHUNK) writeSync(fd, randomBytes(Math.min(CHUNK, size - off)));
  closeSync(fd);
  const eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: "bench", VELA_LOG_LEVEL: "warn" } });
  const node = await startNode({ engineUrl: eng.url, token: "bench", name: "bench-upload", env: { VELA_LOG_LEVEL: "warn" } });
  try {
    const h = await hostUp(eng);
    const sd = await addLocalDomain(eng, await firstDcId(eng), h.id, "bench-sd", tempDir("vela-bench-upload-sd-"));
    const disk = await eng.post<{ id: string }>("/disks", { name: "bench-upload", provisioned_size: size, format: "raw", sparse: true, storage_domains: { storage_domain: [{ id: sd }] } });
    await until("disk ok", async () => ((await eng.get<{ status: string }>(`/disks/${disk.id}`)).status === "ok" ? true : undefined), 120_000);
    const created = await eng.post<{ id: string }>("/imagetransfers", { disk: { id: disk.id }, inactivity_timeout: 600 });
    const t = await until(
      "transferring",
      async () => {
        const g = await eng.get<{ phase: string; proxy_url?: string; transfer_url?: string }>(`/imagetransfers/${created.id}`);
        return g.phase === "transferring" ? g : undefined;
      },
      60_000,
    );
    // Untimed first upload: the staging file's blocks get allocated and the processes warm, so the
    // first timed case (the Vela client's) does not pay for that alone.
    curl(t.transfer_url as string, file, true);
    const load0 = loadavg()[0] as number;
    const rows: Record<string, Run[]> = {};
    const measure = async (k: string, send: () => Promise<number> | number) => {
      const before = cpuNow(eng.proc.pid as number, node.proc.pid as number);
      const s = await send();
      const after = cpuNow(eng.proc.pid as number, node.proc.pid as number);
      rows[k] = [...(rows[k] ?? []), { mibs: MIB / s, engine: after.engine - before.engine, node: after.node - before.node, client: after.client - before.client }];
    };
    for (let r = 0; r < ROUNDS; r++) {
      await measure("proxy vela", () => vela(t.proxy_url as string, file, size, false));
      await measure("proxy curl", () => curl(t.proxy_url as string, file, false));
      await measure("host vela", () => vela(t.transfer_url as string, file, size, true));
      await measure("host curl", () => curl(t.transfer_url as string, file, true));
    }
    const load1 = loadavg()[0] as number;
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const cpu = (runs: Run[]) => `engine ${med(runs.map((x) => x.engine)).toFixed(2)} s, node ${med(runs.map((x) => x.node)).toFixed(2)} s, client ${med(runs.map((x) => x.client)).toFixed(2)} s`;
    for (const where of ["proxy", "host"]) {
      const vr = rows[`${where} vela`] as Run[];
      const cr = rows[`${where} curl`] as Run[];
      const v = med(vr.map((x) => x.mibs));
      const c = med(cr.map((x) => x.mibs));
      console.log(`upload ${MIB} MiB via ${where}: vela ${v.toFixed(0)} MiB/s, curl -T ${c.toFixed(0)} MiB/s, ratio ${(v / c).toFixed(2)} (median of ${ROUNDS}; load ${load0.toFixed(1)}→${load1.toFixed(1)})`);
      console.log(`upload ${MIB} MiB via ${where}: CPU per upload (median) vela: ${cpu(vr)}; curl -T: ${cpu(cr)}`);
    }
    await eng.post(`/imagetransfers/${created.id}/cancel`, {});
  } finally {
    await node.stop();
    await eng.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
