/**
 * The browser console: noVNC's own client files (`@novnc/novnc`: `core/`, `vendor/`) and one page
 * of ours, served at /ovirt-engine/services/novnc/. The page reads the VM id, the proxy ticket
 * and the VNC ticket from its URL fragment (never sent to a server or its logs) and connects
 * through the console WebSocket proxy. Static files only, no secrets: the tickets are what grant
 * access. Only files inside the package's `core/` and `vendor/` are served.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join, normalize, sep } from "node:path";

export const NOVNC_PATH = "/ovirt-engine/services/novnc";

const root = dirname(dirname(createRequire(import.meta.url).resolve("@novnc/novnc")));

const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".html": "text/html; charset=utf-8" };

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Vela console</title>
<style>html,body{margin:0;height:100%;background:#222}#screen{width:100%;height:100%}</style></head>
<body><div id="screen"></div>
<script type="module">
import RFB from "./core/rfb.js";
const q = new URLSearchParams(location.hash.slice(1));
const vm = q.get("vm") ?? "";
const ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
  "/ovirt-engine/services/console/" + encodeURIComponent(vm) + "/vnc?ticket=" + encodeURIComponent(q.get("ticket") ?? "");
const rfb = new RFB(document.getElementById("screen"), ws, { credentials: { password: q.get("password") ?? "" }, wsProtocols: ["binary"] });
rfb.scaleViewport = true;
rfb.addEventListener("connect", () => { document.title = "connected"; });
rfb.addEventListener("securityfailure", (e) => { document.title = "security failure: " + e.detail.reason; });
rfb.addEventListener("disconnect", (e) => { if (document.title !== "connected" || !e.detail.clean) document.title = "disconnected"; });
window.velaRfb = rfb;
</script></body></html>
`;

export interface Asset {
  type: string;
  body: string | Buffer;
}

/** The asset at `rel` (path below NOVNC_PATH), or undefined. */
export async function novncAsset(rel: string): Promise<Asset | undefined> {
  if (rel === "" || rel === "console.html") return { type: TYPES[".html"] as string, body: PAGE };
  const clean = normalize(rel);
  if (!/^(core|vendor)\//.test(clean) || clean.includes(`..${sep}`) || clean.includes("\0")) return undefined;
  const type = TYPES[extname(clean)];
  if (!type) return undefined;
  try {
    return { type, body: await readFile(join(root, clean)) };
  } catch {
    return undefined;
  }
}
