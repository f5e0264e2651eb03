/**
 * Display: a VGA card and a VNC server on loopback. QEMU itself picks the first free display
 * from 5900 up (`to=`), so two VMs or two agents never race for a port; the port in use is read
 * back with `query-vnc`, never assumed.
 */
import type { VmParams } from "@vela/protocol";

export const VNC_LISTEN = "127.0.0.1";
/** Highest display number tried (port 5900 + this). */
const VNC_MAX_DISPLAY = 1000;

export function displayArgv(display: VmParams["display"]): string[] {
  if (display === "none") return [];
  return ["-device", JSON.stringify({ driver: "VGA", id: "video0" }), "-vnc", `${VNC_LISTEN}:0,to=${VNC_MAX_DISPLAY}`];
}
