/**
 * `vela up`: one engine with its embedded database, N local node agents sharing one local
 * storage directory, a Default data center whose pool has a local data domain as master — all
 * ready, then URL and credentials printed. Ctrl-C stops everything; a second `vela up` keeps the
 * data (everything lives under VELA_HOME).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ENGINE_BUNDLE, NODE_MAIN, velaHome } from "./paths.js";
import { step } from "./progress.js";
import { list, Rest } from "./rest.js";
import { type Backoff, Supervised } from "./supervise.js";
import { ensureAdminClient } from "./testpki.js";
import { buildTinyImage, ensureTinyTemplate } from "./tiny.js";
import { attachLun, detachLun, ensureBlockDomain, lunDir } from "./block.js";

export interface UpOptions {
  hosts: number;
  enginePort: number;
  nodePort: number;
  home: string;
  /** PostgreSQL for the engine (`--db postgres://…`; VELA_DB_URL in the environment does the same). */
  dbUrl?: string;
  /** Resolves when the cluster is ready (tests); `vela up` itself then waits for a signal. */
  onReady?: (info: ReadyInfo) => void;
  /** Restart back-off of the supervised processes (default: supervise.ts DEFAULT_BACKOFF). */
  backoff?: Backoff;
  /** Register the `tiny` template (`vela up` does unless VELA_UP_TINY=0; tests ask for it). */
  tiny?: boolean;
  /** The data center on a block domain over a loop-backed LUN file (`--block`) instead of a local one. */
  block?: boolean;
}

export interface Started {
  stop: () => Promise<void>;
  info: ReadyInfo;
  /** The supervised engine and node agents (current pids, restart counts). */
  engine: Supervised;
  nodes: Supervised[];
}

export interface ReadyInfo {
  /** An administrator's client certificate and key for talking to nodes directly (files). */
  adminClient?: { cert: string; key: string };
  url: string;
  user: string;
  password: string;
  home: string;
  /** The engine CA's file (PEM), absent when TLS is off. */
  caFile?: string;
  /** Its contents, for clients of the API. */
  ca?: string;
}

function token(home: string): string {
  const f = join(home, "registration.token");
  if (existsSync(f)) return readFileSync(f, "utf8").trim();
  const t = randomBytes(24).toString("hex");
  writeFileSync(f, `${t}\n`, { mode: 0o600 });
  return t;
}

export async function up(opts: UpOptions): Promise<Started> {
  const home = opts.home;
  for (const d of ["logs", "nodes", "storage/local", "images"]) mkdirSync(join(home, d), { recursive: true });
  // Built (or found in the cache) while the engine and nodes start; a failure only skips `tiny`.
  const tinyImage = !opts.tiny ? undefined : buildTinyImage(join(home, "images"), join(home, "logs/build-tiny-image.log"));
  const regToken = token(home);
  const procs: Supervised[] = [];
  const stop = async () => {
    for (const p of procs) p.quiesce();
    // Agents first (they may still report to the engine), then the engine.
    await Promise.all(procs.slice(1).map((p) => p.stop()));
    await procs[0]?.stop();
    if (opts.block) detachLun(home);
  };
  if (opts.block) attachLun(home);
  try {
    step(`starting engine (VELA_HOME=${home})`);
    const engine = new Supervised({
      name: "engine",
      main: ENGINE_BUNDLE,
      // An empty VELA_ENGINE_CONF: `vela up` configures by environment only, never from an
      // installed package's /etc/vela/engine.conf.
      env: { VELA_HOME: home, VELA_ENGINE_PORT: String(opts.enginePort), VELA_REGISTRATION_TOKEN: regToken, VELA_ENGINE_CONF: "", ...(opts.dbUrl ? { VELA_DB_URL: opts.dbUrl } : {}) },
      logFile: join(home, "logs/engine.log"),
      backoff: opts.backoff,
    });
    procs.push(engine);
    const ready = await engine.start();
    const kv = Object.fromEntries([...ready.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    const info: ReadyInfo = { url: kv.url ?? `https://127.0.0.1:${opts.enginePort}`, user: kv.user ?? "admin@internal", password: kv.password ?? "", home };
    if (kv.ca) {
      info.caFile = kv.ca;
      info.ca = readFileSync(kv.ca, "utf8");
    }
    const rest = new Rest(info.url, info.user, info.password, info.ca);

    const nodes: Supervised[] = [];
    for (let i = 0; i < opts.hosts; i++) {
      const port = opts.nodePort + i;
      step(`starting node agent ${i + 1}/${opts.hosts} on port ${port}`);
      const node = new Supervised({
        name: `node agent ${i + 1}`,
        main: NODE_MAIN,
        env: {
          VELA_NODE_PORT: String(port),
          VELA_NODE_RUN: join(home, "nodes", `node-${i + 1}`),
          VELA_NODE_NAME: `host${i + 1}`,
          VELA_ENGINE_URL: info.url,
          VELA_REGISTRATION_TOKEN: regToken,
          // same machine: the node trusts the engine CA from its file, and enrolls with the token
          ...(info.caFile ? { VELA_ENGINE_CA: info.caFile } : {}),
          VELA_NODE_BOOT_DIRS: [join(home, "boot"), process.env.VELA_NODE_BOOT_DIRS ?? ""].filter(Boolean).join(":"),
          VELA_NODE_CONF: "",
          ...(opts.block ? { VELA_NODE_LUN_DIRS: lunDir(home) } : {}),
          // image files the node may import into disks (the tiny template's image)
          VELA_NODE_IMPORT_DIRS: [join(home, "images"), process.env.VELA_NODE_IMPORT_DIRS ?? ""].filter(Boolean).join(":"),
        },
        logFile: join(home, "logs", `node-${i + 1}.log`),
        backoff: opts.backoff,
      });
      procs.push(node);
      nodes.push(node);
      await node.start();
    }
    step("waiting for hosts to be up");
    const hosts = await Rest.until(
      "hosts up",
      async () => {
        const hs = list<{ id: string; name: string; status: string }>(await rest.get("/hosts"), "host").filter((h) => h.status === "up");
        return hs.length >= opts.hosts ? hs : undefined;
      },
      60_000,
    );
    if (info.caFile) info.adminClient = ensureAdminClient(dirname(info.caFile));
    if (opts.block) await attachMaster(rest, await ensureBlockDomain(rest, hosts[0]!));
    else await attachMaster(rest, await ensureLocalDomain(rest, home, hosts[0]!.name));
    if (tinyImage) await ensureTinyTemplate(rest, await tinyImage);
    return { stop, info, engine, nodes };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Sd {
  id: string;
  name: string;
  status?: string;
}

async function ensureLocalDomain(rest: Rest, home: string, hostName: string): Promise<Sd> {
  let sd = list<Sd>(await rest.get("/storagedomains"), "storage_domain").find((s) => s.name === "local");
  if (!sd) {
    step("creating the local storage domain");
    sd = await rest.post<Sd>("/storagedomains", {
      name: "local",
      type: "data",
      host: { name: hostName },
      storage: { type: "localfs", path: join(home, "storage/local") },
    });
  }
  return sd;
}

/** Attaches the first data domain to the Default data center (it becomes master) and waits for it. */
async function attachMaster(rest: Rest, sd: Sd): Promise<void> {
  const dc = list<{ id: string; name: string; status: string }>(await rest.get("/datacenters"), "data_center").find((d) => d.name === "Default");
  if (!dc) throw new Error("the engine has no Default data center");
  const attached = list<Sd>(await rest.get(`/datacenters/${dc.id}/storagedomains`), "storage_domain").find((s) => s.id === sd.id);
  if (!attached) {
    step("attaching it to the Default data center as master");
    await rest.post(`/datacenters/${dc.id}/storagedomains`, { id: sd.id });
  }
  step("waiting for the data center to be up");
  await Rest.until(
    "data center up with an active master domain",
    async () => {
      const d = await rest.get<{ status: string }>(`/datacenters/${dc.id}`);
      const s = await rest.get<{ status: string }>(`/datacenters/${dc.id}/storagedomains/${sd.id}`);
      return d.status === "up" && s.status === "active" ? true : undefined;
    },
    120_000,
    500,
  );
}

export async function upCommand(args: string[]): Promise<void> {
  const hostsArg = args.indexOf("--hosts");
  const hosts = hostsArg >= 0 ? Number(args[hostsArg + 1]) : 1;
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > 16) throw new Error("--hosts takes a number from 1 to 16");
  const dbArg = args.indexOf("--db");
  const dbUrl = dbArg >= 0 ? args[dbArg + 1] : undefined;
  const block = args.includes("--block");
  if (dbArg >= 0 && !/^postgres(ql)?:\/\//i.test(dbUrl ?? "")) throw new Error("--db takes a postgres:// URL (without --db the engine uses SQLite in VELA_HOME)");
  const home = velaHome();
  mkdirSync(home, { recursive: true });
  const { stop, info } = await up({
    hosts,
    dbUrl,
    home,
    enginePort: Number(process.env.VELA_ENGINE_PORT ?? 8080),
    nodePort: Number(process.env.VELA_NODE_PORT ?? 54321),
    // The tiny template's image import is implemented for file domains only so far.
    tiny: process.env.VELA_UP_TINY !== "0" && !block,
    block,
  });
  process.stdout.write(
    [
      "",
      "Vela is up.",
      `  URL:       ${info.url}/ovirt-engine/api`,
      `  portal:    ${info.url}/   (sign in with the user and password below)`,
      `  user:      ${info.user}`,
      `  password:  ${info.password}`,
      ...(info.caFile ? [`  CA:        ${info.caFile}   (curl --cacert it; also at /ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA)`] : []),
      ...(info.adminClient && info.caFile
        ? [`  node TLS:  client certificate ${info.adminClient.cert}, key ${info.adminClient.key} (nodes answer only the engine CA's clients)`]
        : []),
      `  data:      ${home}   (logs in ${join(home, "logs")})`,
      `  restarts:  an engine or agent that dies is started again (back-off 0.5 s doubling to 30 s); said here and in its log`,
      `  try:       curl${info.caFile ? ` --cacert ${info.caFile}` : ""} -u '${info.user}:${info.password}' -H 'Accept: application/json' ${info.url}/ovirt-engine/api/hosts`,
      block
        ? `  storage:   block domain "block" on the loop-backed LUN ${join(home, "storage/block/lun0")} (no tiny template)`
        : "  template:  tiny — a VM from it boots to a login prompt and reads cloud-init (see README)",
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
  await new Promise<void>((res) => {
    process.once("SIGINT", res);
    process.once("SIGTERM", res);
  });
  step("stopping");
  await stop();
}
