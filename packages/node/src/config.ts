/**
 * Node agent configuration, read once from the environment (which the config file, conffile.ts,
 * fills in first). The node keeps no state of its own
 * beyond this run directory (mounts, pool links, VM sockets); everything durable lives on shared
 * storage or in the engine.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { join, resolve } from "node:path";

export interface NodeConfig {
  /** TCP port of the XML-RPC / JSON-RPC server (VDSM: 54321). */
  port: number;
  /** Address to listen on. */
  listen: string;
  /** Address the engine should use to reach this node. */
  address: string;
  /** Run directory: mounts, pool links, QMP sockets, VM logs. One per agent. */
  runDir: string;
  /** Stable host UUID, persisted in the run directory. */
  hostUuid: string;
  hostName: string;
  /** Engine URL to register with, if any. */
  engineUrl?: string;
  /** Shared secret that lets the engine approve this host without an administrator. */
  registrationToken?: string;
  /**
   * Mutual TLS on the agent's port (VELA_NODE_TLS, default on): it serves with a certificate the
   * engine CA signed and answers only clients whose certificate that CA signed for a client.
   */
  tls: boolean;
  /**
   * Where the node's key, certificate and the engine CA live (VELA_NODE_PKI). Default: `pki` in an
   * explicitly given VELA_NODE_RUN (one agent per run directory), else /var/lib/vela/node/pki.
   */
  pkiDir: string;
  /** The engine CA to trust when enrolling (VELA_ENGINE_CA, a PEM file); else checked with the token. */
  engineCaFile?: string;
  /** Directories a VM definition may take a kernel/initrd from. */
  bootDirs: string[];
  /** Directories the importImageFile verb may read image files from (VELA_NODE_IMPORT_DIRS). */
  importDirs: string[];
  /** Forced accelerator; default: probe. */
  accel?: "kvm" | "tcg";
  /** Test-only fault injection points (VELA_TEST_FAULTS=name,name); never set in production. */
  faults: Set<string>;
  /** SPM priority in self-election (VELA_NODE_SPM_PRIORITY, 0 = never SPM by itself; default 5). */
  spmPriority: number;
  /** Whether a connected host contends for the SPM role by itself (VELA_NODE_SPM_AUTO, default on). */
  spmAutoElect: boolean;
  /**
   * Whether new volume files are made by a long-lived qemu-storage-daemon (VELA_NODE_STORAGE_DAEMON,
   * default on) instead of one qemu-img process each; off mainly to compare the two.
   */
  storageDaemon: boolean;
  /** Address VNC servers listen on (VELA_NODE_DISPLAY_ADDRESS): the host's display network; default loopback. */
  displayAddress: string;
  /**
   * Directories whose files, attached as loop devices, are the LUNs this host may use for block
   * domains (VELA_NODE_LUN_DIRS, colon-separated absolute paths; none by default, so a node never
   * touches a disk it was not given).
   */
  lunDirs: string[];
  /**
   * How LVs become block devices: `device-mapper` (lvchange -ay, real hosts) or `loop` (a loop
   * device over the PV range, hosts without device-mapper). VELA_NODE_BLOCK_PATH; default: probe
   * for /dev/mapper/control.
   */
  blockDataPath: "device-mapper" | "loop";
  /** How often the memory policy looks at host memory and balloons (VELA_NODE_MOM_INTERVAL_MS, default 10 s). */
  momIntervalMs: number;
  /** The kernel's KSM directory (VELA_NODE_KSM_DIR, default /sys/kernel/mm/ksm). */
  ksmDir: string;
}

/** The kernel's device-mapper (a /dev/mapper/control node can exist without it: ask /proc/misc). */
function hasDeviceMapper(): boolean {
  try {
    return /\sdevice-mapper$/m.test(readFileSync("/proc/misc", "utf8"));
  } catch {
    return false;
  }
}

/** An integer setting; a value that is set but not an integer in range stops the start (no silent default). */
function int(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: bad integer ${JSON.stringify(v)} (expected ${min}..${max})`);
  return n;
}

/** A boolean setting: 1/true/yes/on or 0/false/no/off; anything else stops the start. */
function bool(name: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined || v === "") return dflt;
  const t = v.toLowerCase();
  if (["1", "true", "yes", "on"].includes(t)) return true;
  if (["0", "false", "no", "off"].includes(t)) return false;
  throw new Error(`${name}: expected yes or no, got ${JSON.stringify(v)}`);
}

/** A display address must be an IP literal: it goes into QEMU's -vnc option. */
function displayAddress(v: string | undefined): string {
  if (!v) return "127.0.0.1";
  if (!isIP(v)) throw new Error(`VELA_NODE_DISPLAY_ADDRESS=${JSON.stringify(v)} is not an IP address`);
  return v;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const port = int("VELA_NODE_PORT", env.VELA_NODE_PORT, 54321, 1, 65535);
  // Every value is checked before anything is written (no run directory made by a bad start).
  const a = env.VELA_NODE_ACCEL ?? "";
  if (a !== "" && a !== "kvm" && a !== "tcg") throw new Error(`VELA_NODE_ACCEL: expected kvm or tcg (or unset to probe), got ${JSON.stringify(a)}`);
  const accel = a === "" ? undefined : a;
  const checked = {
    spmPriority: int("VELA_NODE_SPM_PRIORITY", env.VELA_NODE_SPM_PRIORITY, 5, 0, 100),
    spmAutoElect: bool("VELA_NODE_SPM_AUTO", env.VELA_NODE_SPM_AUTO, true),
    storageDaemon: bool("VELA_NODE_STORAGE_DAEMON", env.VELA_NODE_STORAGE_DAEMON, true),
    displayAddress: displayAddress(env.VELA_NODE_DISPLAY_ADDRESS),
    tls: bool("VELA_NODE_TLS", env.VELA_NODE_TLS, true),
    momIntervalMs: int("VELA_NODE_MOM_INTERVAL_MS", env.VELA_NODE_MOM_INTERVAL_MS, 10_000, 100, 3_600_000),
    ksmDir: resolve(env.VELA_NODE_KSM_DIR || "/sys/kernel/mm/ksm"),
  };
  const runDir = resolve(env.VELA_NODE_RUN ?? `/var/run/vela/node-${port}`);
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const idFile = join(runDir, "host.id");
  let hostUuid = env.VELA_NODE_ID;
  if (!hostUuid) {
    if (existsSync(idFile)) hostUuid = readFileSync(idFile, "utf8").trim();
    else {
      hostUuid = randomUUID();
      writeFileSync(idFile, `${hostUuid}\n`);
    }
  }
  return {
    port,
    listen: env.VELA_NODE_LISTEN ?? "127.0.0.1",
    address: env.VELA_NODE_ADDRESS ?? "127.0.0.1",
    runDir,
    hostUuid,
    hostName: env.VELA_NODE_NAME ?? `${hostname()}-${port}`,
    engineUrl: env.VELA_ENGINE_URL || undefined,
    registrationToken: env.VELA_REGISTRATION_TOKEN || undefined,
    pkiDir: resolve(env.VELA_NODE_PKI || (env.VELA_NODE_RUN ? join(runDir, "pki") : "/var/lib/vela/node/pki")),
    engineCaFile: env.VELA_ENGINE_CA || undefined,
    bootDirs: (env.VELA_NODE_BOOT_DIRS ?? "").split(":").filter((d) => d.startsWith("/")),
    importDirs: (env.VELA_NODE_IMPORT_DIRS ?? "").split(":").filter((d) => d.startsWith("/")),
    accel,
    faults: new Set((env.VELA_TEST_FAULTS ?? "").split(",").filter(Boolean)),
    ...checked,
    lunDirs: (env.VELA_NODE_LUN_DIRS ?? "").split(":").filter((d) => d.startsWith("/")),
    blockDataPath:
      env.VELA_NODE_BLOCK_PATH === "loop" || env.VELA_NODE_BLOCK_PATH === "device-mapper"
        ? env.VELA_NODE_BLOCK_PATH
        : hasDeviceMapper()
          ? "device-mapper"
          : "loop",
  };
}
