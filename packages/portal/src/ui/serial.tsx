/**
 * A running VM's serial console in the page, with xterm.js: a one-use proxy ticket from the API
 * (`POST /vms/{id}/serialconsole/proxyticket`), then a WebSocket to the engine's console proxy at
 * the path the ticket names, relaying the console's bytes both ways. xterm.js is loaded only when
 * a console opens (a chunk of its own). Beside it, a thumbnail of the VM's screen
 * (`GET /vms/{id}/screenshot`), refreshed while the panel is open. Closing the panel closes the socket.
 */
import "@xterm/xterm/css/xterm.css";
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type CallOptions, currentSession, message } from "../lib/api";
import type { Vm } from "../lib/model";
import { Alert, WidePanel } from "./widgets";

const SHOT_EVERY_MS = 5000;

interface ProxyTicket {
  proxy_ticket?: { value?: string };
  proxy_path?: string;
}

/** Fetches the screenshot with the token (an <img src> could not send it) as an object URL. */
async function screenshotUrl(vmId: string, opts: CallOptions): Promise<string> {
  const s = currentSession();
  const headers: Record<string, string> = { authorization: `Bearer ${s?.token ?? ""}` };
  if (opts.filter) headers.filter = "true";
  const res = await fetch(`/ovirt-engine/api/vms/${encodeURIComponent(vmId)}/screenshot`, { headers });
  if (!res.ok) throw new Error(`screenshot: HTTP ${res.status}`);
  return URL.createObjectURL(await res.blob());
}

function Thumbnail(p: { vm: Vm; opts: CallOptions }): JSX.Element {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    let alive = true;
    let last: string | undefined;
    const take = () =>
      screenshotUrl(p.vm.id, p.opts).then(
        (u) => {
          if (!alive) return URL.revokeObjectURL(u);
          if (last) URL.revokeObjectURL(last);
          last = u;
          setUrl(u);
        },
        () => undefined, // a VM without a display has no screenshot: the terminal is enough
      );
    void take();
    const t = setInterval(take, SHOT_EVERY_MS);
    return () => {
      alive = false;
      clearInterval(t);
      if (last) URL.revokeObjectURL(last);
    };
  }, [p.vm.id]);
  return url ? <img class="thumb" src={url} alt={`Screen of ${p.vm.name}`} /> : <span class="muted thumb">no screen</span>;
}

export function SerialConsole(p: { vm: Vm; filter?: boolean; onClose: () => void }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState("connecting");
  const [error, setError] = useState<string>();
  const opts: CallOptions = { filter: p.filter };
  useEffect(() => {
    let ws: WebSocket | undefined;
    let dispose: (() => void) | undefined;
    let alive = true;
    (async () => {
      const [{ Terminal }, t] = await Promise.all([
        import("@xterm/xterm"),
        api<ProxyTicket>("POST", `/vms/${encodeURIComponent(p.vm.id)}/serialconsole/proxyticket`, {}, opts),
      ]);
      if (!alive || !box.current) return;
      const ticket = t.proxy_ticket?.value;
      if (!ticket || !t.proxy_path?.startsWith("/ovirt-engine/services/console/")) throw new Error("the engine gave no serial console ticket");
      const term = new Terminal({ convertEol: false, cursorBlink: true, rows: 24, cols: 80, fontSize: 13 });
      term.open(box.current);
      const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${t.proxy_path}?ticket=${encodeURIComponent(ticket)}`;
      const sock = new WebSocket(url, "binary");
      ws = sock;
      sock.binaryType = "arraybuffer";
      const enc = new TextEncoder();
      const typed = term.onData((d) => {
        if (sock.readyState === WebSocket.OPEN) sock.send(enc.encode(d));
      });
      sock.onopen = () => {
        setState("connected");
        term.focus();
        // a fresh line, so the guest shows its prompt
        sock.send(enc.encode("\r"));
      };
      sock.onmessage = (m) => term.write(new Uint8Array(m.data as ArrayBuffer));
      sock.onclose = (c) => setState(c.code === 1000 ? "disconnected" : `disconnected (${c.code}${c.reason ? `: ${c.reason}` : ""})`);
      dispose = () => {
        typed.dispose();
        term.dispose();
      };
    })().catch((err: unknown) => {
      if (alive) {
        setError(message(err));
        setState("not connected");
      }
    });
    return () => {
      alive = false;
      ws?.close();
      dispose?.();
    };
  }, [p.vm.id]);
  return (
    <WidePanel id="serial-title" title={<>Serial console of {p.vm.name}</>} closeLabel="Close serial console" onClose={p.onClose} status={
        <span class="muted" aria-live="polite" data-state={state}>
          {state}
        </span>
      }
    >
      <Alert text={error} />
      <div class="console-row">
        <section class="serial-box" ref={box} aria-label={`Terminal of ${p.vm.name}`} />
        <Thumbnail vm={p.vm} opts={opts} />
      </div>
    </WidePanel>
  );
}
