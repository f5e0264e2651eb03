/**
 * Test harness: starts a real vela-node process with its own port and run directory, and talks
 * to it over both transports. Used by the node's tests, the integration tests and benchmarks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeCall, parseMethodResponse, type XmlRpcValue } from "../src/api/xmlrpc-codec.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { freePort } from "@vela/testkit";
import { rawRequest, seedNodePki } from "./tls.js";

const here = dirname(fileURLToPath(import.meta.url));
/** packages/node/dist/src/main.js, from packages/node/dist/test/. */
export const NODE_MAIN = resolve(here, "../src/main.js");

// Shared with the engine's and the integration tests (the test kit).
export { freePort } from "@vela/testkit";

export interface NodeProc {
  port: number;
  url: string;
  runDir: string;
  proc: ChildProcess;
  /** stdout+stderr so far (pino JSON lines). */
  output(): string;
  /** XML-RPC call with positional params; returns the VDSM response struct. */
  xml(method: string, ...args: unknown[]): Promise<Record<string, XmlRpcValue> & { status: { code: number; message: string } }>;
  /** JSON-RPC call; resolves with `result`, rejects with an Error carrying `code` on `error`. */
  json(method: string, params?: Record<string, unknown>): Promise<unknown>;
  /** Raw JSON-RPC reply object. */
  jsonRaw(body: unknown): Promise<unknown>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  runDir?: string;
  port?: number;
  timeoutMs?: number;
  /** Run the agent inside this network namespace (`ip netns exec`), reached at `host`. */
  netns?: string;
  /** Address the test reaches the agent at (default 127.0.0.1). */
  host?: string;
}

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** One POST on a connection of its own, with the run's client certificate (tls.ts rawRequest). */
async function post(url: string, contentType: string, body: string): Promise<{ status: number; text: string }> {
  return rawRequest(url, { method: "POST", headers: { "content-type": contentType }, body });
}

export async function startNode(opts: StartOptions = {}): Promise<NodeProc> {
  const port = opts.port ?? (await freePort());
  const runDir = opts.runDir ?? mkdtempSync(join(tmpdir(), "vela-node-"));
  const argv = opts.netns ? ["ip", "netns", "exec", opts.netns, process.execPath, NODE_MAIN] : [process.execPath, NODE_MAIN];
  // the agent serves mutual TLS with the run's node certificate, unless the test (or the caller's
  // environment, e.g. a benchmark separating TLS handshakes from the work) turns TLS off or names its own
  const tls = (opts.env?.VELA_NODE_TLS ?? process.env.VELA_NODE_TLS ?? "on") !== "off";
  if (tls && !opts.env?.VELA_NODE_PKI) seedNodePki(join(runDir, "pki"));
  const proc = spawn(argv[0] as string, argv.slice(1), {
    env: { ...process.env, VELA_NODE_PORT: String(port), VELA_NODE_RUN: runDir, VELA_LOG_LEVEL: "info", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  await new Promise<void>((res, rej) => {
    // A child that is not ready in time is killed: left running, it kept the test file's event loop
    // alive after its tests ended and the run hung (seen under load: 14 agents, a CI run that never ended).
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      rej(new Error(`node did not start in time:\n${out}`));
    }, opts.timeoutMs ?? 90_000); // slow starts on a loaded machine are not hangs (see engine support READY_TIMEOUT_MS)
    const check = () => {
      if (out.includes("VELA-NODE-READY")) {
        clearTimeout(timer);
        res();
      }
    };
    proc.stdout!.on("data", check);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`node exited with ${code} before ready:\n${out}`));
    });
  });
  const url = `${tls ? "https" : "http"}://${opts.host ?? "127.0.0.1"}:${port}`;
  let nextId = 1;
  const jsonRaw = async (body: unknown) => {
    const res = await post(`${url}/jsonrpc`, "application/json", JSON.stringify(body));
    return res.status === 204 ? undefined : JSON.parse(res.text);
  };
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  return {
    port,
    url,
    runDir,
    proc,
    output: () => out,
    async xml(method, ...args) {
      const res = await post(`${url}/RPC2`, "text/xml", encodeCall(method, args));
      return parseMethodResponse(res.text) as never;
    },
    async json(method, params = {}) {
      const r = (await jsonRaw({ jsonrpc: "2.0", id: nextId++, method, params })) as {
        result?: unknown;
        error?: { code: number; message: string };
      };
      if (r.error) throw new RpcError(r.error.code, r.error.message);
      return r.result;
    },
    jsonRaw,
    async kill(signal = "SIGKILL") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** Polls a node task until it leaves the running states; returns its final status. */
export async function waitTask(
  node: NodeProc,
  taskID: string,
  timeoutMs = 60_000,
): Promise<{ taskState: string; taskResult: string; code: number; message: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = (await node.json("Task.getStatus", { taskID })) as { taskState: string; taskResult: string; code: number; message: string };
    if (st.taskState === "finished" || st.taskState === "failed" || st.taskState === "recovered" || st.taskResult === "success" || st.taskResult === "cleanSuccess") return st;
    if (Date.now() > deadline) throw new Error(`task ${taskID} still ${st.taskState} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface LocalPool {
  dir: string;
  sdUUID: string;
  spUUID: string;
  domainDir: string;
}

/** Creates a LOCALFS domain in a temp dir, a pool with it as master, connects, and becomes SPM. */
export async function setupLocalPool(node: NodeProc, dir = mkdtempSync(join(tmpdir(), "vela-sd-"))): Promise<LocalPool> {
  const sdUUID = randomUUID();
  const spUUID = randomUUID();
  const ok = <T extends { status: { code: number; message: string } }>(r: T, what: string): T => {
    if (r.status.code !== 0) throw new Error(`${what}: ${r.status.message} (${r.status.code})`);
    return r;
  };
  ok(await node.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: dir }]), "connectStorageServer");
  ok(await node.xml("createStorageDomain", 4, sdUUID, "test domain", dir, 1, 5), "createStorageDomain");
  ok(await node.xml("createStoragePool", 0, spUUID, "test pool", sdUUID, [sdUUID], 1), "createStoragePool");
  ok(await node.xml("connectStoragePool", spUUID, 1, "", sdUUID, 1), "connectStoragePool");
  const task = ok(await node.xml("spmStart", spUUID, -1, "-1", 0, false), "spmStart").uuid as string;
  await waitTaskXml(node, task);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const st = ok(await node.xml("getSpmStatus", spUUID), "getSpmStatus").spm_st as { spmStatus: string };
    if (st.spmStatus === "SPM") break;
    if (Date.now() > deadline) throw new Error(`node did not become SPM: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { dir, sdUUID, spUUID, domainDir: join(dir, sdUUID) };
}

export async function waitTaskXml(node: NodeProc, taskID: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await node.xml("getTaskStatus", taskID);
    const st = r.taskStatus as { taskState: string; taskResult: string; message: string };
    if (st?.taskState === "finished") {
      if (st.taskResult !== "success") throw new Error(`task ${taskID} failed: ${st.message}`);
      return st;
    }
    if (Date.now() > deadline) throw new Error(`task ${taskID} not finished: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

/**
 * After a restart: connects a node to an existing local pool (as host 1) and makes it SPM,
 * which recovers the tasks the previous SPM left.
 */
export async function rejoinPool(node: NodeProc, p: { dir: string; sd: string; sp: string }, timeoutMs = 60_000): Promise<void> {
  const ok = <T extends { status: { code: number; message: string } }>(r: T, what: string): T => {
    if (r.status.code !== 0) throw new Error(`${what}: ${r.status.message} (${r.status.code})`);
    return r;
  };
  ok(await node.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: p.dir }]), "connectStorageServer");
  ok(await node.xml("connectStoragePool", p.sp, 1, "", p.sd, 1), "connectStoragePool");
  const t = ok(await node.xml("spmStart", p.sp, -1, "-1", 0, false), "spmStart");
  const st = await waitTask(node, t.uuid as string, timeoutMs);
  if (st.taskResult !== "success") throw new Error(`spmStart: ${st.message}`);
}

/** Waits for a node that should die by itself (a test fault point) to exit. */
export async function waitExit(node: NodeProc, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (node.proc.exitCode === null && node.proc.signalCode === null) {
    // Say why: the log shows whether the task failed (or was refused) before its fault point.
    if (Date.now() > deadline) throw new Error(`node did not die at the fault point in ${ms} ms; its log ends:\n${node.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
