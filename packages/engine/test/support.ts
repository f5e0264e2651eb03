/**
 * Test support: starts the real engine process (and, for end-to-end tests, real node agents)
 * with temp directories and free ports, and speaks REST to it. No mocks: the processes are the
 * ones `vela up` starts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { freePort, tempDir, until as kitUntil } from "@vela/testkit";
import { databaseFor, testDb } from "./pg.js";
import { rawRequest, seedEnginePki, seedNodePki } from "./tls.js";

const here = dirname(fileURLToPath(import.meta.url));
/** packages/engine/dist/src/main.js, from packages/engine/dist/test/. */
export const ENGINE_MAIN = resolve(here, "../src/main.js");
/** packages/engine/dist/bundle/main.js: the engine as `vela up` and the package run it (build.mjs). */
export const ENGINE_BUNDLE = resolve(here, "../bundle/main.js");
/** packages/node/dist/src/main.js. */
export const NODE_MAIN = resolve(here, "../../../node/dist/src/main.js");

/**
 * The node's on-disk checker (storage/domain/check.ts) on a domain directory: its list of problems. Loaded from
 * the node's build by path, as the agent is started by path: the engine shares no code with it.
 */
export async function checkDomain(domainDir: string): Promise<string[]> {
  const mod = (await import(pathToFileURL(resolve(here, "../../../node/dist/src/storage/domain/check.js")).href)) as {
    checkFileDomain(dir: string): Promise<{ problems: string[] }>;
  };
  return (await mod.checkFileDomain(domainDir)).problems;
}

// Shared with the node's and the integration tests (the test kit).
export { freePort, tempDir } from "@vela/testkit";

/**
 * How long a started engine or agent may take to say READY before the start counts as hung. It
 * starts in well under a second on a quiet machine; a CI box running many test files (or other
 * work) at once can be 20+ s, and a start that is merely slow must not fail a test.
 */
const READY_TIMEOUT_MS = 90_000;

export interface Proc {
  proc: ChildProcess;
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

function spawnReady(main: string, env: Record<string, string>, marker: string, timeoutMs: number, netns?: string, args: string[] = []): Promise<Proc & { readyLine: string; readyMs: number }> {
  const t0 = Date.now();
  // in a network namespace: `ip netns exec` execs the agent itself, so signals reach it
  const argv = netns ? ["ip", "netns", "exec", netns, process.execPath, main, ...args] : [process.execPath, main, ...args];
  const proc = spawn(argv[0] as string, argv.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let stdout = "";
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const end = async (sig: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await exited;
  };
  return new Promise((res, rej) => {
    // Not ready in time: killed, or it keeps the test file alive after its tests end (a hung run).
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      rej(new Error(`${main} not ready in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      stdout += d;
      const m = new RegExp(`^${marker}.*$`, "m").exec(stdout);
      if (m) {
        clearTimeout(timer);
        res({ proc, output: () => out, stop: () => end("SIGTERM"), kill: () => end("SIGKILL"), readyLine: m[0], readyMs: Date.now() - t0 });
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`${main} exited (${code}) before ready:\n${out}`));
    });
  });
}

export interface Engine extends Proc {
  url: string;
  user: string;
  password: string;
  home: string;
  port: number;
  readyMs: number;
  api(method: string, path: string, opts?: CallOpts): Promise<Res>;
  /** JSON GET that must succeed. */
  get<T = Record<string, unknown>>(path: string): Promise<T>;
  /** JSON POST that must succeed. */
  post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T>;
}

export interface CallOpts {
  body?: string | object;
  /** Content-Type; default JSON for objects, XML for strings starting with '<'. */
  type?: string;
  accept?: "json" | "xml";
  /** Authorization header; default Basic with the admin password; null for none. */
  auth?: string | null;
}

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  json?: Record<string, unknown>;
}

/**
 * Starts an engine. Its database is SQLite in its home, or — with `db: "postgres"`, or when the
 * file runs under VELA_TEST_DB=postgres (test/postgres/*) — a fresh database on the process's
 * private PostgreSQL server, found again when the same home is started again.
 */
export async function startEngine(
  opts: {
    home?: string;
    port?: number;
    env?: Record<string, string>;
    timeoutMs?: number;
    db?: "sqlite" | "postgres";
    /** Let the engine make its own CA (the PKI tests); default: the run's test CA. */
    ownPki?: boolean;
    /** Run the engine in this network namespace. */
    netns?: string;
    /** The engine's entry point: default tsc's output, ENGINE_MAIN; ENGINE_BUNDLE is what users run. */
    main?: string;
  } = {},
): Promise<Engine> {
  const home = opts.home ?? tempDir("vela-engine-");
  const port = opts.port ?? (await freePort());
  const db = opts.db ?? testDb();
  const dbEnv: Record<string, string> = db === "postgres" && opts.env?.VELA_DB_URL === undefined ? { VELA_DB_URL: await databaseFor(home) } : {};
  // The run's CA and engine certificate (made once per run): no CA made per engine, and fetch() trusts it.
  if (!opts.ownPki && opts.env?.VELA_ENGINE_TLS !== "off") seedEnginePki(home);
  const p = await spawnReady(
    opts.main ?? ENGINE_MAIN,
    { VELA_HOME: home, VELA_ENGINE_PORT: String(port), VELA_LOG_LEVEL: "info", ...dbEnv, ...opts.env },
    "VELA-ENGINE-READY",
    opts.timeoutMs ?? READY_TIMEOUT_MS,
    opts.netns,
  );
  const kv = Object.fromEntries([...p.readyLine.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])) as Record<string, string>;
  const url = kv.url as string;
  const basic = `Basic ${Buffer.from(`${kv.user}:${kv.password}`).toString("base64")}`;
  const api = async (method: string, path: string, o: CallOpts = {}): Promise<Res> => {
    const headers: Record<string, string> = { accept: o.accept === "xml" ? "application/xml" : "application/json" };
    if (o.auth !== null) headers.authorization = o.auth ?? basic;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
      headers["content-type"] = o.type ?? (body.trimStart().startsWith("<") ? "application/xml" : "application/json");
    }
    const res = await fetch(`${url}/ovirt-engine/api${path}`, { method, headers, body });
    const text = await res.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  const must = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await api(method, path, body === undefined ? {} : { body: body as object });
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.text}`);
    return r.json as T;
  };
  return {
    ...p,
    url,
    user: kv.user as string,
    password: kv.password as string,
    home,
    port,
    readyMs: p.readyMs,
    api,
    get: (path) => must("GET", path),
    post: (path, body) => must("POST", path, body),
  };
}

export interface Node extends Proc {
  port: number;
  runDir: string;
  name: string;
}

export async function startNode(opts: {
  engineUrl: string;
  token?: string;
  name: string;
  runDir?: string;
  port?: number;
  env?: Record<string, string>;
  netns?: string;
  /** Enroll with the engine for a certificate (default: the run's shared node certificate). */
  enroll?: boolean;
  /** Command-line arguments of the agent (`join https://ENGINE --token T`). */
  args?: string[];
}): Promise<Node> {
  const port = opts.port ?? (await freePort());
  const runDir = opts.runDir ?? tempDir("vela-node-");
  if (!opts.enroll && opts.env?.VELA_NODE_TLS !== "off" && !opts.env?.VELA_NODE_PKI) seedNodePki(join(runDir, "pki"));
  const env: Record<string, string> = {
    VELA_NODE_PORT: String(port),
    VELA_NODE_RUN: runDir,
    VELA_NODE_NAME: opts.name,
    ...(opts.engineUrl ? { VELA_ENGINE_URL: opts.engineUrl } : {}),
    VELA_LOG_LEVEL: "info",
    ...opts.env,
  };
  if (opts.token) env.VELA_REGISTRATION_TOKEN = opts.token;
  const p = await spawnReady(NODE_MAIN, env, "VELA-NODE-READY", READY_TIMEOUT_MS, opts.netns, opts.args);
  return { ...p, port, runDir, name: opts.name };
}

/** A node's JSON-RPC answer: the result, or the error it gave. */
export interface RpcAnswer<T> {
  result?: T;
  error?: { code: number; message: string };
}

/** One JSON-RPC call to a node agent (VDSM 4.x names, e.g. StoragePool.getSpmStatus). */
export async function nodeRpc<T = Record<string, unknown>>(node: { port: number }, method: string, params: Record<string, unknown>): Promise<RpcAnswer<T>> {
  // over mutual TLS with the run's client certificate, as the engine calls nodes
  const res = await rawRequest(`https://127.0.0.1:${node.port}/jsonrpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  try {
    return JSON.parse(res.text) as RpcAnswer<T>;
  } catch {
    throw new Error(`${method}: HTTP ${res.status}, not JSON: ${res.text.slice(0, 200)}`);
  }
}

/** nodeRpc that must succeed: its result, or an error naming the method and the node's answer. */
export async function nodeCall<T>(node: { port: number }, method: string, params: Record<string, unknown>): Promise<T> {
  const body = await nodeRpc<T>(node, method, params);
  if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
  return body.result as T;
}

/** Polls until fn returns something other than undefined (the kit's, with this suite's 30 s default). */
export function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, stepMs = 100): Promise<T> {
  return kitUntil(what, fn, timeoutMs, stepMs);
}

/** oVirt JSON collections: {"vm": [...]}. */
export function items<T = Record<string, unknown>>(body: Record<string, unknown> | undefined, key: string): T[] {
  const v = body?.[key];
  return Array.isArray(v) ? (v as T[]) : [];
}

/**
 * QEMU processes running a VM, found by the VM id as one whole word of their command line. Only a
 * UUID is looked for: a test whose VM was never made passes "" or undefined and gets none — a
 * looser match ("none" is in every test QEMU's `cache=none`) once killed other files' VMs in CI.
 */
export function qemuOf(vmId: string | undefined): number[] {
  if (!vmId || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(vmId)) return [];
  const word = new RegExp(`(^|[^0-9a-f-])${vmId}($|[^0-9a-f-])`, "i");
  const pids: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (argv[0]?.includes("qemu-system") && argv.some((a) => word.test(a))) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** The first host the engine reports up. */
export function hostUp(eng: Engine, timeoutMs = 20_000): Promise<{ id: string; status: string }> {
  return until("host up", async () => items<{ id: string; status: string }>((await eng.api("GET", "/hosts")).json, "host").find((x) => x.status === "up"), timeoutMs);
}

/** The first (Default) data center's id. */
export async function firstDcId(eng: Engine): Promise<string> {
  return (items<{ id: string }>((await eng.api("GET", "/datacenters")).json, "data_center")[0] as { id: string }).id;
}

/** The first (Default) cluster's id. */
export async function firstClusterId(eng: Engine): Promise<string> {
  return (items<{ id: string }>((await eng.api("GET", "/clusters")).json, "cluster")[0] as { id: string }).id;
}

/** Adds a local data domain on `dir` through `hostId` and attaches it to `dcId`; returns its id. */
export async function addLocalDomain(eng: Engine, dcId: string, hostId: string, name: string, dir: string): Promise<string> {
  const sd = await eng.post<{ id: string }>("/storagedomains", { name, type: "data", host: { id: hostId }, storage: { type: "localfs", path: dir } });
  // The API asks to try again while the data center is busy (an SPM election after a host came
  // back); a client does so.
  const r = await until(`attach ${name}`, async () => {
    const res = await eng.api("POST", `/datacenters/${dcId}/storagedomains`, { body: { id: sd.id } });
    return res.status === 409 && /try again later/i.test(res.text) ? undefined : res;
  }, 60_000, 500);
  if (r.status !== 201) throw new Error(`attach ${name}: ${r.status} ${r.text}`);
  return sd.id;
}

/** A VM snapshot as the REST API shows it (the members the tests read). */
export interface Snap {
  id: string;
  description: string;
  snapshot_status: string;
  snapshot_type: string;
}

/**
 * The body of `POST /vms` for a VM that boots the test guest (scripts/build-test-guest.sh, built
 * into `guestDir`) straight from its kernel and initrd, 192 MiB, in the Default cluster.
 */
export function guestVmBody(name: string, guestDir: string, cmdline: string): Record<string, unknown> {
  return {
    name,
    cluster: { name: "Default" },
    memory: 192 * 2 ** 20,
    os: { type: "other_linux", kernel: join(guestDir, "vmlinuz"), initrd: join(guestDir, "initrd.img"), cmdline },
  };
}
