/**
 * Opening a VM's console: asks the engine for the VM's VNC console, a VNC password (ticket) and a
 * one-use proxy ticket, then opens the engine's noVNC page with them in the URL fragment (which
 * the browser never sends to a server). The window is opened before the API calls, while the
 * click still counts as a user gesture, so popup blockers let it through.
 */
import { api, type CallOptions, items } from "./api";

interface Console {
  id: string;
  protocol?: string;
}

export async function openConsole(vmId: string, opts: CallOptions = {}): Promise<void> {
  const win = window.open("about:blank", "_blank");
  try {
    const base = `/vms/${encodeURIComponent(vmId)}/graphicsconsoles`;
    const consoles = items<Console>(await api("GET", base, undefined, opts), "graphics_console");
    const vnc = consoles.find((c) => c.protocol === "vnc") ?? consoles[0];
    if (!vnc) throw new Error("This VM has no graphical console.");
    const gc = `${base}/${encodeURIComponent(vnc.id)}`;
    const pw = await api<{ ticket?: { value?: string } }>("POST", `${gc}/ticket`, {}, opts);
    const px = await api<{ proxy_ticket?: { value?: string } }>("POST", `${gc}/proxyticket`, {}, opts);
    const frag = new URLSearchParams({ vm: vmId, ticket: px.proxy_ticket?.value ?? "", password: pw.ticket?.value ?? "" });
    const url = `/ovirt-engine/services/novnc/console.html#${frag}`;
    if (win) win.location.href = url;
    else location.assign(url);
  } catch (err) {
    win?.close();
    throw err;
  }
}
