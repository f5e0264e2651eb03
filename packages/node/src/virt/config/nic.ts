/**
 * NICs: a tap device joined to a named Linux bridge, or QEMU user-mode networking. The node creates
 * the tap (named from a hash of run directory and VM id, so two agents on one host — e.g. both
 * ends of a local migration — never collide) and QEMU only opens it; `script=no` always, so QEMU
 * never runs a helper. Never creates or changes a bridge: the bridge must already exist.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { type NicSpec, VdsmError } from "@vela/protocol";
import { run } from "../../exec.js";
import type { Logger } from "../../log.js";

export const NIC_DRIVER: Record<NicSpec["nicModel"], string> = { virtio: "virtio-net-pci", e1000: "e1000", rtl8139: "rtl8139" };

/** 14 characters: "vt", 11 hex digits of the hash, one hex digit of the NIC index. */
export function tapName(runDir: string, vmId: string, index: number): string {
  const h = createHash("sha256").update(`${runDir}\0${vmId}`).digest("hex").slice(0, 11);
  return `vt${h}${index.toString(16)}`;
}

export function bridgeExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}/bridge`);
}

/** Refuses what would fail later: duplicate MACs, missing bridges, multicast MACs. */
export function checkNics(nics: readonly NicSpec[]): void {
  const macs = new Set<string>();
  for (const n of nics) {
    if (macs.has(n.macAddr)) throw new VdsmError("createErr", `MAC address ${n.macAddr} is used twice`);
    macs.add(n.macAddr);
    if (Number.parseInt(n.macAddr.slice(0, 2), 16) & 1) throw new VdsmError("createErr", `MAC address ${n.macAddr} is multicast`);
    if (n.network !== "user" && !bridgeExists(n.network)) {
      throw new VdsmError("createErr", `bridge ${n.network} does not exist on this host`);
    }
  }
}

async function tapExists(name: string): Promise<boolean> {
  return existsSync(`/sys/class/net/${name}`);
}

/** Creates a tap and joins it to the bridge. A stale tap of the same name is ours: replaced. */
export async function createTap(name: string, bridge: string, log: Logger): Promise<void> {
  if (await tapExists(name)) await deleteTap(name, log);
  try {
    // one `ip` process for the three steps (a spawn from the agent costs tens of ms); both names
    // are checked interface names (no spaces or newlines), so they cannot add batch commands
    const batch = `tuntap add dev ${name} mode tap\nlink set dev ${name} master ${bridge}\nlink set dev ${name} up\n`;
    await run(["ip", "-batch", "-"], { log, timeoutMs: 10_000, input: batch });
  } catch (e) {
    await deleteTap(name, log);
    throw new VdsmError("createErr", `cannot create tap ${name} on bridge ${bridge}: ${(e as Error).message}`, { cause: e });
  }
}

export async function deleteTap(name: string, log: Logger): Promise<void> {
  if (!(await tapExists(name))) return;
  try {
    await run(["ip", "link", "del", "dev", name], { log, timeoutMs: 10_000 });
  } catch (e) {
    log.warn({ tap: name, err: (e as Error).message }, "cannot delete tap");
  }
}

/** QEMU arguments; `taps[i]` is the tap of `nics[i]` (unused for user networking). */
export function nicsArgv(nics: readonly NicSpec[], taps: readonly string[]): string[] {
  if (nics.length === 0) return ["-nic", "none"];
  const argv: string[] = [];
  nics.forEach((n, i) => {
    const netdev = n.network === "user" ? `user,id=net${i}` : `tap,id=net${i},ifname=${taps[i]},script=no,downscript=no`;
    argv.push("-netdev", netdev);
    argv.push("-device", JSON.stringify({ driver: NIC_DRIVER[n.nicModel], netdev: `net${i}`, mac: n.macAddr, id: `nic${i}` }));
  });
  return argv;
}
