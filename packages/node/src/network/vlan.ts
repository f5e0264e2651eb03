/**
 * 802.1Q VLAN devices as VDSM names them (`<nic>.<vlan id>`) and whether this kernel can make
 * them at all: some kernels (this project's CI among them) have neither the 8021q nor the bonding
 * driver, and a network that needs one is refused up front rather than half-built.
 */
import { existsSync } from "node:fs";
import { release } from "node:os";
import { VdsmError } from "@vela/protocol";
import type { Logger } from "../log.js";
import { ip } from "./ip.js";

function kernelHas(module: string, dir: string, sysMarker: string): boolean {
  if (existsSync(sysMarker) || existsSync(`/sys/module/${module}`)) return true;
  const base = `/lib/modules/${release()}/kernel/${dir}`;
  return ["", ".xz", ".zst", ".gz"].some((ext) => existsSync(`${base}/${module}.ko${ext}`));
}

export function vlanSupported(): boolean {
  return kernelHas("8021q", "net/8021q", "/proc/net/vlan");
}

export function bondingSupported(): boolean {
  return kernelHas("bonding", "drivers/net/bonding", "/sys/class/net/bonding_masters");
}

/** The VLAN device's name; refused when it would not fit an interface name (15 characters). */
export function vlanDevName(parent: string, vlanId: number): string {
  const name = `${parent}.${vlanId}`;
  if (name.length > 15) throw new VdsmError("ERR_BAD_VLAN", `VLAN device name ${name} is longer than 15 characters`);
  return name;
}

export async function createVlan(parent: string, vlanId: number, log: Logger): Promise<string> {
  const name = vlanDevName(parent, vlanId);
  await ip(["link", "add", "link", parent, "name", name, "type", "vlan", "id", String(vlanId)], log);
  return name;
}
