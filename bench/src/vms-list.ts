/**
 * Benchmark (issue 12): `GET /vms` with 10,000 VMs, JSON and XML, p50/p99, on SQLite and on
 * PostgreSQL (a private server from the engine's test kit). The VMs are inserted straight into
 * the engine's database while the engine is stopped (as if made over time), then the engine is
 * started again and the list asked for one request at a time, after a few warm-up requests.
 * A second line per database times the list's query alone (`SELECT * FROM vms ORDER BY name`,
 * straight through the driver), to tell the database's share from the engine's rendering. The
 * `follow=disk_attachments` cases inline each VM's (here empty) disk attachments collection. A
 * `vms-bare-https` line per format sends the very same bytes from a bare Node HTTPS server: the
 * floor of moving the answer through TLS and the client on this box. The client is Node's fetch,
 * which asks for gzip as oVirt's SDK does (`compress=True`): the engine's kept list goes
 * compressed, the bare server sends the same text compressed the same way; an `identity` line
 * per format asks for the plain ~29 MB. Every time is the full answer read, decompressed and
 * (JSON) parsed, as a client sees it; `headers` is the time to the answer's headers (the engine's
 * own share: request, checks, finding the answer), `read` is the answer read (and decompressed) without the
 * parse, `client_parse` the client's JSON.parse alone.
 *   node bench/dist/src/vms-list.js [vms=10000] [requests=10]
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { databaseFor, pgServer } from "@vela/engine/dist/test/pg.js";
import { type Engine, startEngine } from "@vela/engine/dist/test/support.js";
import Database from "better-sqlite3";
import pg from "pg";
import { homeWithVms, pct } from "./lib/fill.js";

const VMS = Number(process.argv[2] ?? 10_000);
const REQUESTS = Number(process.argv[3] ?? 10);
/** The list's query alone, `REQUESTS` times after a warm-up: p50/p99 in ms. */
async function queryOnly(db: "sqlite" | "postgres", home: string): Promise<{ p50: number; p99: number }> {
  const q = "SELECT * FROM vms ORDER BY name";
  const ms: number[] = [];
  if (db === "sqlite") {
    const d = new Database(join(home, "engine.db"), { readonly: true });
    try {
      const stmt = d.prepare(q);
      for (let i = -3; i < REQUESTS; i++) {
        const t = performance.now();
        if (stmt.all().length !== VMS) throw new Error("rows missing");
        if (i >= 0) ms.push(performance.now() - t);
      }
    } finally {
      d.close();
    }
  } else {
    const c = new pg.Client({ connectionString: await databaseFor(home) });
    await c.connect();
    try {
      for (let i = -3; i < REQUESTS; i++) {
        const t = performance.now();
        if ((await c.query(q)).rows.length !== VMS) throw new Error("rows missing");
        if (i >= 0) ms.push(performance.now() - t);
      }
    } finally {
      await c.end();
    }
  }
  ms.sort((a, b) => a - b);
  return { p50: pct(ms, 50), p99: pct(ms, 99) };
}

/**
 * The floor for moving the same answer: a bare Node HTTPS server (the engine's certificate,
 * keep-alive) in this process sends the bytes the engine sent, the client reads (and JSON-parses)
 * them as the test kit's client does with the engine's.
 */
async function bareFloor(body: string, type: string, gzipped: boolean): Promise<{ p50: number; p99: number }> {
  const pki = process.env.VELA_TEST_PKI ?? "";
  const wire = gzipped ? gzipSync(body, { level: 1 }) : body;
  const srv = createServer({ key: readFileSync(join(pki, "engine.key")), cert: readFileSync(join(pki, "engine.pem")) }, (_req, res) => {
    res.writeHead(200, { "content-type": type, ...(gzipped ? { "content-encoding": "gzip" } : {}) });
    res.end(wire);
  });
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok));
  const port = (srv.address() as AddressInfo).port;
  try {
    const once = async () => {
      const t = performance.now();
      const r = await fetch(`https://127.0.0.1:${port}/`);
      const text = await r.text();
      if (text.length !== body.length) throw new Error("bare floor: short answer");
      try {
        JSON.parse(text); // as the engine's client (the test kit's api()) does with every answer
      } catch {
        /* XML */
      }
      return performance.now() - t;
    };
    for (let i = 0; i < 3; i++) await once();
    const ms: number[] = [];
    for (let i = 0; i < REQUESTS; i++) ms.push(await once());
    ms.sort((a, b) => a - b);
    return { p50: pct(ms, 50), p99: pct(ms, 99) };
  } finally {
    srv.close();
  }
}

let lastBody = "";
let lastGzipped = false;

/** The answer must be whole: every VM in it, once. */
function checkWhole(text: string, accept: "json" | "xml"): void {
  const n = accept === "json" ? (JSON.parse(text) as { vm?: unknown[] }).vm?.length : text.match(/<vm href=/g)?.length;
  if (n !== VMS) throw new Error(`GET /vms (${accept}): ${n} VMs in the answer, not ${VMS}`);
}

async function measure(eng: Engine, accept: "json" | "xml", query = "", encoding?: "identity"): Promise<{ p50: number; p99: number; bytes: number; wire: number; parse: number; read: number; head: number }> {
  let bytes = 0;
  let wire = 0;
  const parses: number[] = [];
  const reads: number[] = [];
  const heads: number[] = [];
  const once = async () => {
    const t = performance.now();
    const res = await fetch(`${eng.url}/ovirt-engine/api/vms${query}`, {
      headers: {
        accept: accept === "json" ? "application/json" : "application/xml",
        authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}`,
        ...(encoding ? { "accept-encoding": encoding } : {}),
      },
    });
    heads.push(performance.now() - t);
    const text = await res.text();
    const p = performance.now();
    if (accept === "json") JSON.parse(text); // as the test kit's client (and any JSON client) does
    const ms = performance.now() - t;
    parses.push(performance.now() - p);
    reads.push(p - t);
    if (res.status !== 200) throw new Error(`GET /vms (${accept}): HTTP ${res.status} ${text.slice(0, 500)}`);
    bytes = Buffer.byteLength(text);
    wire = Number(res.headers.get("content-length") ?? bytes);
    lastGzipped = res.headers.get("content-encoding") === "gzip";
    lastBody = text;
    return ms;
  };
  for (let i = 0; i < 3; i++) await once();
  if (!query) checkWhole(lastBody, accept);
  const ms: number[] = [];
  for (let i = 0; i < REQUESTS; i++) ms.push(await once());
  ms.sort((a, b) => a - b);
  // the warm-up's samples are not counted
  const p50Of = (xs: number[]) => pct(xs.slice(-REQUESTS).sort((a, b) => a - b), 50);
  return { p50: pct(ms, 50), p99: pct(ms, 99), bytes, wire, parse: p50Of(parses), read: p50Of(reads), head: p50Of(heads) };
}

let running: Engine | undefined;

async function main() {
  // An interrupted run leaves no engine; exiting then stops the PostgreSQL server (its kit's
  // exit handler).
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void (running?.kill() ?? Promise.resolve()).then(() => process.exit(130)));
  const pgs = pgServer();
  try {
    for (const db of ["sqlite", "postgres"] as const) {
      const env = { VELA_LOG_LEVEL: "warn" };
      process.stderr.write(`vms-list: ${db}: inserting ${VMS} VMs\n`);
      const { home, port } = await homeWithVms(db, VMS, "vela-bench-vms-", env);
      const sel = await queryOnly(db, home);
      console.log(`vms-select db=${db} vms=${VMS} requests=${REQUESTS} p50_ms=${sel.p50.toFixed(1)} p99_ms=${sel.p99.toFixed(1)}`);
      const eng = await startEngine({ home, port, db, env });
      running = eng;
      try {
        for (const [accept, query] of [["json", ""], ["xml", ""], ["json", "?follow=disk_attachments"], ["xml", "?follow=disk_attachments"]] as const) {
          const r = await measure(eng, accept, query);
          const follow = query ? " follow=disk_attachments" : "";
          const enc = lastGzipped ? "gzip" : "identity";
          console.log(`vms-list db=${db} vms=${VMS} format=${accept}${follow} encoding=${enc} requests=${REQUESTS} p50_ms=${r.p50.toFixed(0)} p99_ms=${r.p99.toFixed(0)} bytes=${r.bytes} wire_bytes=${r.wire} headers_p50_ms=${r.head.toFixed(1)} read_p50_ms=${r.read.toFixed(0)} client_parse_p50_ms=${r.parse.toFixed(0)} target_p50<=50`);
          if (!query) {
            const f = await bareFloor(lastBody, accept === "json" ? "application/json" : "application/xml", lastGzipped);
            console.log(`vms-bare-https db=${db} format=${accept} encoding=${enc} requests=${REQUESTS} p50_ms=${f.p50.toFixed(0)} p99_ms=${f.p99.toFixed(0)} bytes=${r.bytes} (the same answer from a bare Node HTTPS server)`);
            const plain = await measure(eng, accept, query, "identity");
            console.log(`vms-list db=${db} vms=${VMS} format=${accept} encoding=identity requests=${REQUESTS} p50_ms=${plain.p50.toFixed(0)} p99_ms=${plain.p99.toFixed(0)} bytes=${plain.bytes} read_p50_ms=${plain.read.toFixed(0)} client_parse_p50_ms=${plain.parse.toFixed(0)}`);
            const pf = await bareFloor(lastBody, accept === "json" ? "application/json" : "application/xml", false);
            console.log(`vms-bare-https db=${db} format=${accept} encoding=identity requests=${REQUESTS} p50_ms=${pf.p50.toFixed(0)} p99_ms=${pf.p99.toFixed(0)} bytes=${plain.bytes}`);
          }
        }
      } finally {
        running = undefined;
        await eng.stop();
      }
    }
  } finally {
    pgs.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
