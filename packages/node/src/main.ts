#!/usr/bin/env node
/**
 * vela-node: the host agent (Vela's VDSM). Starts storage, virt and host subsystems, serves the
 * verb table over XML-RPC and JSON-RPC, registers with the engine, and stops cleanly on
 * SIGINT/SIGTERM. Running VMs are left running when the agent stops: the node is stateless and a
 * restarted agent recovers them.
 */
import { readFileSync } from "node:fs";
import { ConfError } from "@vela/protocol";
import { assemble } from "./api/handlers.js";
import type { NodeContext } from "./api/context.js";
import { loadConfig, type NodeConfig } from "./config.js";
import { loadNodeConfFile } from "./conffile.js";
import { createHost } from "./host/index.js";
import { registrationBody, startRegistration } from "./host/register.js";
import { createLogger, type Logger } from "./log.js";
import { EnrollError, enroll, installed, type NodeTlsFiles } from "./pki/enroll.js";
import { renewalHandlers, type TlsSwitch } from "./pki/renew.js";
import type { Server as TlsServer } from "node:tls";
import { createNetwork } from "./network/index.js";
import { startServer } from "./server.js";
import { createStorage } from "./storage/hsm.js";
import { registerImageHttp } from "./storage/image/image-http.js";
import { useStorageDaemon } from "./storage/volume/qemuimg.js";
import { DaemonSupervisor } from "./storage/volume/qsd.js";
import { createVirt } from "./virt/index.js";

/**
 * `vela-node join https://ENGINE --token T [--ca FILE]`: the same as setting VELA_ENGINE_URL,
 * VELA_REGISTRATION_TOKEN and VELA_ENGINE_CA — the agent enrolls (or waits for approval), then runs.
 */
function joinArgs(argv: string[]): void {
  if (argv[0] !== "join") {
    if (argv.length > 0) throw new Error(`VELA: unknown arguments ${JSON.stringify(argv.join(" "))} (usage: vela-node [join https://ENGINE [--token T] [--ca FILE]])`);
    return;
  }
  const url = argv[1];
  if (!url || !/^https:\/\/[^\s/]+\/?$/.test(url)) throw new Error("VELA: usage: vela-node join https://ENGINE[:PORT] [--token T] [--ca FILE]");
  process.env.VELA_ENGINE_URL = url;
  for (let i = 2; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`VELA: ${argv[i]} needs a value`);
    if (argv[i] === "--token") process.env.VELA_REGISTRATION_TOKEN = v;
    else if (argv[i] === "--ca") process.env.VELA_ENGINE_CA = v;
    else throw new Error(`VELA: unknown option ${argv[i]} (join takes --token and --ca)`);
  }
}

/** The agent's certificate: installed, or enrolled for now; none when TLS is off. */
async function nodeTls(config: NodeConfig, log: Logger): Promise<NodeTlsFiles | undefined> {
  if (!config.tls) {
    log.warn("TLS is off (VELA_NODE_TLS=off): anyone who reaches this port can drive the host");
    return undefined;
  }
  return installed(config.pkiDir) ?? (await enroll(config, log, () => registrationBody(config)));
}

async function main(): Promise<void> {
  joinArgs(process.argv.slice(2));
  const conf = loadNodeConfFile();
  const config = loadConfig();
  const log = createLogger("vela-node").child({ port: config.port });
  if (conf.file) log.info({ file: conf.file, keys: conf.keys }, "config file read");
  const ctx: NodeContext = {
    config,
    log,
    fault(point: string) {
      if (config.faults.has(point)) {
        log.warn({ point }, "test fault injected: dying now");
        process.kill(process.pid, "SIGKILL");
      }
    },
  };
  const tls = await nodeTls(config, log);
  // Started now (not on first create) so a host that cannot run it says so in its start-up log.
  const qsd = config.storageDaemon ? new DaemonSupervisor(config.runDir, log) : undefined;
  await qsd?.get();
  useStorageDaemon(qsd);
  const storage = await createStorage(ctx);
  const network = await createNetwork(ctx);
  const virt = await createVirt(ctx, storage.images);
  const host = createHost(ctx, [
    () => storage.stats(),
    async () => {
      const listed = await virt.handlers.list?.({ full: false, vmList: undefined });
      return { vmCount: Array.isArray(listed?.vmList) ? listed.vmList.length : 0 };
    },
  ]);
  // Certificate renewal switches the served certificate; the server exists only after the handlers.
  let switchTls: TlsSwitch = () => {
    throw new Error("the server is not listening yet");
  };
  const renewal = renewalHandlers(config, log.child({ part: "pki" }), (f) => switchTls(f));
  const handlers = assemble(host.handlers, storage.handlers, virt.handlers, network.handlers, renewal);
  const app = await startServer(handlers, log, config.port, config.listen, tls, (a) => registerImageHttp(a, storage.transfers, log.child({ api: "images" })));
  switchTls = (f) => (app.server as unknown as TlsServer).setSecureContext({ key: f.key, cert: f.cert, ca: f.ca, minVersion: "TLSv1.2" });
  // Upgrades (the serial console relay) go to the subsystem that serves them; others are refused.
  app.server.on("upgrade", (req, socket, head) => {
    if (!virt.upgrade?.(req, socket, head)) socket.destroy();
  });
  const engineCa = tls?.ca ?? (config.engineCaFile ? readFileSync(config.engineCaFile, "utf8") : undefined);
  // the node's certificate goes with its registrations: it proves which host re-registers
  const registrar = startRegistration(config, log, engineCa ? { ca: engineCa, ...(tls ? { client: { key: tls.key, cert: tls.cert } } : {}) } : undefined);
  log.info({ hostUuid: config.hostUuid, runDir: config.runDir }, "vela-node ready");
  process.stdout.write(`VELA-NODE-READY port=${config.port} host=${config.hostUuid} tls=${tls ? "on" : "off"}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    registrar.stop();
    await app.close();
    await virt.close();
    await storage.close();
    qsd?.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((err) => {
  // A configuration mistake is said in one message; anything else with its stack.
  const why = err instanceof EnrollError ? `${err.code}: ${err.message}` : err instanceof ConfError || (err instanceof Error && /^VELA_/.test(err.message)) ? err.message : err instanceof Error ? err.stack : String(err);
  process.stderr.write(`vela-node failed to start: ${why}\n`);
  process.exit(1);
});
