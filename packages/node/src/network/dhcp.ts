/**
 * DHCPv4 for a host network (bootproto "dhcp"): busybox `udhcpc` asks for one lease and exits;
 * its event script only prints what the server offered, and the node applies the address (and the
 * default route when the network has it) with `ip` itself, so no shell script changes the host.
 * The lease is not renewed by a daemon (a limitation: a restarted agent asks again).
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { VdsmError } from "@vela/protocol";
import { CommandError, run } from "../exec.js";
import type { Logger } from "../log.js";
import { ip } from "./ip.js";

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** The event script: prints the lease, changes nothing. */
export async function writeDhcpScript(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, "udhcpc-event");
  await writeFile(path, '#!/bin/sh\necho "VELA-DHCP $1 ip=$ip mask=$mask router=$router"\n', { mode: 0o700 });
  await chmod(path, 0o700);
  return path;
}

export interface Lease {
  address: string;
  prefix: number;
  router?: string;
}

export function parseLease(stdout: string): Lease | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith("VELA-DHCP bound ") || l.startsWith("VELA-DHCP renew "));
  if (!line) return undefined;
  const kv = Object.fromEntries([...line.matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1], m[2]]));
  const prefix = Number(kv.mask);
  if (!IPV4.test(kv.ip ?? "") || !Number.isInteger(prefix) || prefix < 1 || prefix > 32) return undefined;
  const router = (kv.router ?? "").split(" ")[0];
  return { address: kv.ip as string, prefix, router: router && IPV4.test(router) ? router : undefined };
}

/** Asks for a lease on `dev` and applies it; throws ERR_BAD_ADDR when no server answers. */
export async function dhcpAddress(dev: string, script: string, defaultRoute: boolean, log: Logger): Promise<Lease> {
  let stdout = "";
  try {
    ({ stdout } = await run(["busybox", "udhcpc", "-f", "-q", "-n", "-t", "4", "-T", "1", "-i", dev, "-s", script], { log, timeoutMs: 20_000 }));
  } catch (e) {
    throw new VdsmError("ERR_BAD_ADDR", `no DHCP lease on ${dev}: ${e instanceof CommandError ? e.stderr.trim().split("\n").pop() : String(e)}`, { cause: e });
  }
  const lease = parseLease(stdout);
  if (!lease) throw new VdsmError("ERR_BAD_ADDR", `no usable DHCP lease on ${dev}`);
  await ip(["addr", "replace", `${lease.address}/${lease.prefix}`, "dev", dev], log);
  if (defaultRoute && lease.router) await ip(["route", "replace", "default", "via", lease.router, "dev", dev], log);
  return lease;
}
