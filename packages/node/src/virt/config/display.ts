/**
 * Display: a VGA card and a VNC server on the host's display address, never open without a
 * password: QEMU starts with `password=on` and no password set, so every client is refused until
 * the engine sets a one-time ticket (setTicket → QMP set_password + expire_password). QEMU itself
 * picks the first free display from 5900 up (`to=`), so two VMs or two agents never race for a
 * port; the port in use is read back with `query-vnc`, never assumed.
 */
import { isIP } from "node:net";
import type { VmParams } from "@vela/protocol";

/** Default display address: loopback, for a setup where engine and nodes share one machine. */
export const VNC_LISTEN = "127.0.0.1";
/** Highest display number tried (port 5900 + this). */
const VNC_MAX_DISPLAY = 1000;

/** The display address in QEMU's `-vnc host:display` form (IPv6 literals in brackets). */
function vncHost(address: string): string {
  if (!isIP(address)) throw new Error(`display address ${address} is not an IP address`);
  return isIP(address) === 6 ? `[${address}]` : address;
}

export function displayArgv(display: VmParams["display"], address: string = VNC_LISTEN): string[] {
  if (display === "none") return [];
  return ["-device", JSON.stringify({ driver: "VGA", id: "video0" }), "-vnc", `${vncHost(address)}:0,to=${VNC_MAX_DISPLAY},password=on`];
}
