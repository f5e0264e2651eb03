#!/usr/bin/env node
/**
 * vela-engine entry point: config → database (migrations) → HTTP API → one READY line on stdout
 * → monitors. Everything not needed to answer the first request is loaded after the READY line,
 * so start-up stays well under a second. Never exits silently: a failed start prints why and
 * exits non-zero.
 */
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { ConfError } from "@vela/protocol";
import { apiRoutes, internalRoutes, preload } from "./api/routes.js";
import { buildServer } from "./api/server.js";
import { loadEngineConfFile } from "./conffile.js";
import { loadConfig } from "./config.js";
import { DbConfigError, describePgUrl, isPostgresUrl } from "./db/dialect.js";
import { openDb } from "./db/index.js";
import { type Leadership, takeLeadership } from "./db/leader.js";
import { createEngine } from "./engine.js";
import { createLogger } from "./log.js";
import { ensurePki, PkiError } from "./pki/ca.js";
import { registerPkiResource } from "./pki/resource.js";
import { registerPortal } from "./portal/static.js";
import { registerImageProxy } from "./transfers/proxy.js";
import { removeEnginePid, writeEnginePid } from "./tools/pidfile.js";

async function main(): Promise<void> {
  const t0 = performance.now();
  const conf = loadEngineConfFile();
  const cfg = loadConfig();
  const log = createLogger("vela-engine");
  if (conf.file) log.info({ file: conf.file, keys: conf.keys }, "config file read");
  const leader = await activeOnly(cfg.dbUrl, log);
  const store = await openDb({ dbFile: cfg.dbFile, url: cfg.dbUrl, poolMax: cfg.dbPoolMax });
  // The CA and the engine certificate: made on first start (openssl, tens of ms), then reused.
  const pki = cfg.tls ? await ensurePki(cfg.pkiDir, cfg.tlsNames, log) : undefined;
  if (!cfg.tls) log.warn("TLS is off (VELA_ENGINE_TLS=off): the API, consoles and node links are plain HTTP");
  const engine = createEngine(cfg, log, store.db, pki);
  const dir = cfg.directory;
  // what the directory domain is (never its bind password): the first thing to check when sign-ins fail
  if (dir) log.info({ profile: dir.name, url: dir.url, startTls: dir.startTls, bindDn: dir.bindDn, userBase: dir.userBase, groupBase: dir.groupBase, membership: dir.membership }, "LDAP directory domain");
  const app = buildServer(engine, apiRoutes, internalRoutes, pki);
  registerPkiResource(app, pki);
  // The browser console's static files (noVNC and our page), loaded on first use.
  app.get("/ovirt-engine/services/novnc/*", async (req, reply) => {
    const { novncAsset } = await import("./console/novnc.js");
    const rel = decodeURIComponent((req.params as { "*": string })["*"] ?? "");
    const asset = await novncAsset(rel);
    if (!asset) return reply.code(404).type("text/plain").send("Not Found");
    return reply.type(asset.type).header("cache-control", "no-cache").send(asset.body);
  });
  // Image transfers' data through the engine (proxy_url): same origin as the portal.
  registerImageProxy(app, engine);
  // The web portal's built files at /ovirt-engine/web/; `/` leads there.
  registerPortal(app);
  // The console WebSocket proxy (and ws) loads on the first upgrade, off the start-up path.
  let proxy: Promise<(req: IncomingMessage, socket: Duplex, head: Buffer) => void> | undefined;
  app.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    proxy ??= import("./console/proxy.js").then((m) => m.consoleProxy(engine));
    proxy.then((handle) => handle(req, socket, head)).catch((err: unknown) => {
      log.error({ err }, "console proxy unavailable");
      socket.destroy();
    });
  });
  await app.listen({ port: cfg.port, host: cfg.listen });
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `${pki ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${addr.port}`;
  const ms = Math.round(performance.now() - t0);
  log.info({ url, home: cfg.home, db: store.kind, dbTarget: store.target, startMs: ms }, "engine API ready");
  if (cfg.passwordGenerated) log.warn({ file: `${cfg.home}/admin-password` }, "generated an admin password (printed on the READY line)");
  writeEnginePid(cfg.home);
  process.stdout.write(`VELA-ENGINE-READY url=${url} user=${cfg.adminUser} password=${cfg.adminPassword}${pki ? ` ca=${pki.caFile}` : ""}\n`);

  const monitoring = await import("./monitoring/index.js");
  const monitors = monitoring.startMonitors(engine);
  preload().catch((err: unknown) => log.error({ err }, "preloading API modules failed"));
  monitoring.recoverJobs(engine).catch((err: unknown) => log.error({ err }, "job recovery failed"));
  // Image transfers a previous run left open: ended, their disks given back (transfers/lifecycle.ts).
  import("./transfers/lifecycle.js")
    .then((m) => m.recoverTransfers(engine))
    .catch((err: unknown) => log.error({ err }, "image transfer recovery failed"));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "engine stopping");
    monitors.stop();
    await app.close().catch(() => undefined);
    await engine.bg.drain();
    engine.nodes.close();
    await store.close();
    await leader?.release();
    removeEnginePid(cfg.home);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/**
 * On PostgreSQL, waits until this is the database's one active engine (db/leader.ts); says so on
 * stdout while it stands by, for supervisors and tests. Losing the lock later ends the process.
 */
async function activeOnly(url: string | undefined, log: ReturnType<typeof createLogger>): Promise<Leadership | undefined> {
  if (!url || !isPostgresUrl(url)) return undefined;
  // A malformed URL is the configuration error openDb would name (DB_URL_INVALID), not a crash.
  describePgUrl(url);
  const lost = (why: string) => {
    log.fatal({ why }, "lost the active-engine lock: stopping so that one engine acts at a time");
    process.exit(1);
  };
  return takeLeadership(url, log, lost, () => process.stdout.write("VELA-ENGINE-STANDBY another engine is active on this database\n"));
}

main().catch((err: unknown) => {
  // A configuration mistake (a database that cannot be used is one) is said in one message,
  // with its stable code when it has one; anything else with its stack.
  const why =
    err instanceof DbConfigError || err instanceof PkiError
      ? `${err.code}: ${err.message}`
      : err instanceof ConfError || (err instanceof Error && /^VELA_/.test(err.message))
        ? err.message
        : ((err as Error)?.stack ?? String(err));
  process.stderr.write(`vela-engine: failed to start: ${why}\n`);
  process.exit(1);
});
