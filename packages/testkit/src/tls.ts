/**
 * The test run's PKI as every test uses it (engine, node and integration tests, through their
 * `tls.ts` re-exports): `vela test` makes one CA per run (cli/src/testpki.ts) and names its
 * directory in VELA_TEST_PKI. Agents started by the harness get the shared node certificate (no
 * enrollment per agent), engines the shared CA, and the harness's own calls present the shared
 * client certificate.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";

export function testPki(): string {
  const dir = process.env.VELA_TEST_PKI;
  if (!dir || !existsSync(join(dir, "ca.pem"))) throw new Error("VELA_TEST_PKI is not set: run the tests through ./vela test (it makes the run's test CA)");
  return dir;
}

function copyInto(dir: string, files: [string, string][]): void {
  const src = testPki();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [from, to] of files) if (!existsSync(join(dir, to))) copyFileSync(join(src, from), join(dir, to));
}

/** Gives an agent's pki directory the run's node certificate (unless it has one already). */
export function seedNodePki(dir: string): void {
  copyInto(dir, [["ca.pem", "ca.pem"], ["node.pem", "node.pem"], ["node.key", "node.key"]]);
}

/** Gives an engine home the run's CA and engine certificate (as `vela up` or a test starts it). */
export function seedEnginePki(home: string): void {
  copyInto(join(home, "pki"), [["ca.pem", "ca.pem"], ["ca.key", "ca.key"], ["engine.pem", "engine.pem"], ["engine.key", "engine.key"]]);
}

let client: { ca: string; cert: string; key: string } | undefined;
/** The harness's client certificate, key and the CA (PEM). */
export function clientTls(): { ca: string; cert: string; key: string } {
  const dir = testPki();
  client ??= { ca: readFileSync(join(dir, "ca.pem"), "utf8"), cert: readFileSync(join(dir, "client.pem"), "utf8"), key: readFileSync(join(dir, "client.key"), "utf8") };
  return client;
}

export interface RawAnswer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * One request on a connection of its own, over TLS with the harness's client certificate for an
 * https URL. Not fetch: fetch cannot present a client certificate without a dispatcher, and its
 * pooled connections went stale while a test blocked its event loop.
 */
export function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {}): Promise<RawAnswer> {
  const u = new URL(url);
  const headers: Record<string, string | number> = { ...opts.headers };
  if (opts.body !== undefined) headers["content-length"] = Buffer.byteLength(opts.body);
  return new Promise((res, rej) => {
    const o = { method: opts.method ?? "GET", agent: false as const, headers, timeout: opts.timeoutMs ?? 120_000 };
    const onRes = (r: import("node:http").IncomingMessage) => {
      let text = "";
      r.setEncoding("utf8").on("data", (d: string) => (text += d));
      r.on("end", () => res({ status: r.statusCode ?? 0, text, headers: r.headers }));
      r.on("error", rej);
    };
    const req = u.protocol === "https:" ? httpsRequest(u, { ...o, ...clientTls() }, onRes) : httpRequest(u, o, onRes);
    req.on("timeout", () => req.destroy(new Error(`${opts.method ?? "GET"} ${url}: no answer in time`)));
    req.on("error", rej);
    req.end(opts.body);
  });
}
