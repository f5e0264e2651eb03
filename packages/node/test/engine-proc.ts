/**
 * A real vela-engine process for the node's cluster tests and the benchmarks (the engine's own
 * tests have theirs in packages/engine/test/support.ts), with a small REST client: spawned from
 * the engine's dist with a registration token the cluster's nodes use, ready on its banner line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./harness.js";

/** packages/engine/dist/src/main.js, from packages/node/dist/test/. */
const ENGINE_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../../engine/dist/src/main.js");

export interface RestReply {
  status: number;
  json?: Record<string, unknown>;
  text: string;
}

/** A real vela-engine process and a small REST client for it. */
export interface EngineProc {
  url: string;
  proc: ChildProcess;
  output(): string;
  /** One REST call (JSON); rejects on a network error or timeout only. */
  rest(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<RestReply>;
}

/** The token the cluster's nodes register with. */
export const REG_TOKEN = "cluster-support-token";

export async function startEngine(home: string, env: Record<string, string>): Promise<EngineProc> {
  const port = await freePort();
  const proc = spawn(process.execPath, [ENGINE_MAIN], {
    env: { ...process.env, VELA_HOME: home, VELA_ENGINE_PORT: String(port), VELA_REGISTRATION_TOKEN: REG_TOKEN, VELA_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const ready = await new Promise<string>((res, rej) => {
    // Not ready in time: killed, or it keeps the test file alive after its tests end (a hung run).
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      rej(new Error(`engine did not start:\n${out.slice(-3000)}`));
    }, 90_000); // slow starts on a loaded machine are not hangs
    const check = () => {
      const m = /^VELA-ENGINE-READY.*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[0]);
      }
    };
    proc.stdout!.on("data", check);
    proc.once("exit", (code) => rej(new Error(`engine exited (${code}):\n${out.slice(-3000)}`)));
  });
  const kv = Object.fromEntries([...ready.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])) as Record<string, string>;
  const auth = `Basic ${Buffer.from(`${kv.user}:${kv.password}`).toString("base64")}`;
  const url = kv.url as string;
  return {
    url,
    proc,
    output: () => out,
    async rest(method, path, body, timeoutMs = 30_000) {
      const headers: Record<string, string> = { accept: "application/json", authorization: auth };
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await fetch(`${url}/ovirt-engine/api${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let json: Record<string, unknown> | undefined;
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text };
    },
  };
}

/** oVirt JSON collections: {"disk": [...]}. */
export function restItems<T = Record<string, unknown>>(body: Record<string, unknown> | undefined, key: string): T[] {
  const v = body?.[key];
  return Array.isArray(v) ? (v as T[]) : [];
}

