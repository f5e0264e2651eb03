#!/usr/bin/env node
/**
 * vela-node: the host agent (Vela's VDSM). Starts storage, virt and host subsystems, serves the
 * verb table over XML-RPC and JSON-RPC, registers with the engine, and stops cleanly on
 * SIGINT/SIGTERM. Running VMs are left running when the agent stops: the node is stateless and a
 * restarted agent recovers them.
 */
import { ConfError } from "@vela/protocol";
import { assemble } from "./api/handlers.js";
import type { NodeContext } from "./api/context.js";
import { loadConfig } from "./config.js";
import { loadNodeConfFile } from "./conffile.js";
import { createHost } from "./host/index.js";
import { startRegistration } from "./host/register.js";
import { createLogger } from "./log.js";
import { createNetwork } from "./network/index.js";
import { startServer } from "./server.js";
import { createStorage } from "./storage/hsm.js";
import { useStorageDaemon } from "./storage/volume/qemuimg.js";
import { DaemonSupervisor } from "./storage/volume/qsd.js";
import { createVirt } from "./virt/index.js";

async function main(): Promise<void> {
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
  const handlers = assemble(host.handlers, storage.handlers, virt.handlers, network.handlers);
  const app = await startServer(handlers, log, config.port, config.listen);
  // Upgrades (the serial console relay) go to the subsystem that serves them; others are refused.
  app.server.on("upgrade", (req, socket, head) => {
    if (!virt.upgrade?.(req, socket, head)) socket.destroy();
  });
  const registrar = startRegistration(config, log);
  log.info({ hostUuid: config.hostUuid, runDir: config.runDir }, "vela-node ready");
  process.stdout.write(`VELA-NODE-READY port=${config.port} host=${config.hostUuid}\n`);

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
  const why = err instanceof ConfError || (err instanceof Error && /^VELA_/.test(err.message)) ? err.message : err instanceof Error ? err.stack : String(err);
  process.stderr.write(`vela-node failed to start: ${why}\n`);
  process.exit(1);
});
