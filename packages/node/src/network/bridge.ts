/**
 * Linux bridges for logical networks: one bridge per bridged network, named after it, with STP
 * off and no forward delay (ports forward at once, as VDSM configures them). A NIC, VLAN device
 * or VM tap becomes a port with `ip link set … master`.
 */
import type { Logger } from "../log.js";
import { ip } from "./ip.js";

export async function createBridge(name: string, log: Logger): Promise<void> {
  await ip(["link", "add", "name", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"], log);
}

export async function deleteLink(name: string, log: Logger): Promise<void> {
  await ip(["link", "del", "dev", name], log);
}

export async function setMaster(dev: string, bridge: string, log: Logger): Promise<void> {
  await ip(["link", "set", "dev", dev, "master", bridge], log);
}

export async function noMaster(dev: string, log: Logger): Promise<void> {
  await ip(["link", "set", "dev", dev, "nomaster"], log);
}

export async function linkUp(dev: string, log: Logger): Promise<void> {
  await ip(["link", "set", "dev", dev, "up"], log);
}

export async function setMtu(dev: string, mtu: number, log: Logger): Promise<void> {
  await ip(["link", "set", "dev", dev, "mtu", String(mtu)], log);
}
