/**
 * Benchmark (issue 10): a VM's VNC console through the engine's WebSocket proxy vs a direct VNC
 * connection, in the same run, on the same guest (real engine, node and QEMU under TCG).
 * Frames: updates per second as a viewer asks for them (incremental requests, raw encoding) while
 * the guest rewrites its text screen in a loop; latency: round trips QEMU answers at once (RFB
 * handshake steps), so the proxy's added time is not hidden by QEMU's display refresh timer.
 * A bare TCP relay in its own Node process is measured too: the floor of any user-space hop on
 * the same box under the same load. The three ways take turns so that load drifts hit all alike.
 *   node bench/dist/src/console-proxy.js [seconds_per_round=5] [rounds=3] [connections_per_round=100]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { GUEST_SCRIPT } from "@vela/cli/paths";
import { RfbClient } from "@vela/engine/dist/test/rfb.js";
import { guestVmBody, hostUp, qemuOf, startEngine, startNode, until } from "@vela/engine/dist/test/support.js";
import WebSocket from "ws";

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 3);
const PINGS = Number(process.argv[4] ?? 100);
const VNC = "766e63";

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) : Number.NaN;
}

/**
 * Framebuffer updates per second for `seconds`, as a viewer asks for them (incremental requests,
 * one outstanding): the guest keeps its text screen changing, so QEMU sends at its own pace.
 */
async function frames(c: RfbClient, seconds: number): Promise<{ fps: number; mibPerS: number }> {
  c.requestUpdate(false);
  await c.readUpdate();
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let n = 0;
  let bytes = 0;
  while (performance.now() < end) {
    c.requestUpdate(true);
    bytes += (await c.readUpdate()).bytes;
    n++;
  }
  const s = (performance.now() - t0) / 1000;
  return { fps: n / s, mibPerS: bytes / 2 ** 20 / s };
}

/**
 * Round trips that QEMU answers at once, without its display refresh timer in the way: client
 * version → security types, and security type → challenge; two samples per connection (ms).
 */
async function handshakeRtts(open: () => Promise<RfbClient>, connections: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < connections; i++) {
    const c = await open();
    await c.greeting();
    let t0 = performance.now();
    c.write(Buffer.from("RFB 003.008\n", "latin1"));
    const n = (await c.reader.read(1))[0] as number;
    await c.reader.read(n);
    out.push(performance.now() - t0);
    t0 = performance.now();
    c.write(Buffer.from([2]));
    await c.reader.read(16);
    out.push(performance.now() - t0);
    c.close();
  }
  return out;
}

/**
 * The floor of any user-space relay under the same load: a bare TCP relay in its own Node
 * process (as the engine is one), no WebSocket framing, no tickets.
 */
async function bareRelay(target: number): Promise<{ port: number; proc: ChildProcess }> {
  const code = `const net=require("net");const s=net.createServer((c)=>{const u=net.connect(${target},"127.0.0.1");c.setNoDelay(true);u.setNoDelay(true);c.pipe(u);u.pipe(c);const e=()=>{c.destroy();u.destroy()};c.on("error",e);u.on("error",e);c.on("close",e);u.on("close",e)});s.listen(0,"127.0.0.1",()=>console.log(s.address().port))`;
  const proc = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((res) => proc.stdout?.once("data", (d: Buffer) => res(Number(d.toString().trim()))));
  return { port, proc };
}

/** Starts a loop in the guest's serial shell that rewrites the VGA text console without pause. */
async function keepScreenBusy(eng: Awaited<ReturnType<typeof startEngine>>, vmId: string): Promise<void> {
  const pt = await eng.post<{ proxy_ticket: { value: string }; proxy_path: string }>(`/vms/${vmId}/serialconsole/proxyticket`, {});
  const ws = new WebSocket(`${eng.url.replace(/^http/, "ws")}${pt.proxy_path}?ticket=${encodeURIComponent(pt.proxy_ticket.value)}`, ["binary"]);
  let text = "";
  ws.on("message", (d: Buffer) => (text += d.toString("latin1")));
  await new Promise((res, rej) => {
    ws.once("open", res);
    ws.once("error", rej);
  });
  // The shell may not be up yet: ask until it answers, then start the loop once.
  await until("guest shell answers", async () => {
    if (text.includes("READY-2")) return true;
    ws.send(Buffer.from("echo READY-$((1+1))\n"));
    return undefined;
  }, 60_000, 1000);
  ws.send(Buffer.from("i=0; while :; do i=$((i+1)); echo \"frame $i $i $i $i $i $i $i $i\" >/dev/tty0; done & echo BUSY-$((6*7))\n"));
  await until("guest screen loop started", async () => (text.includes("BUSY-42") ? true : undefined), 30_000, 100);
  ws.close();
}

async function main(): Promise<void> {
  const dir = execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() as string;
  const eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: "bench", VELA_ENGINE_VM_POLL_MS: "500", VELA_LOG_LEVEL: "warn", VELA_BOOT_DIRS: dir } });
  const node = await startNode({ engineUrl: eng.url, token: "bench", name: "bench-host", env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: dir, VELA_LOG_LEVEL: "warn" } });
  let vmId = "";
  try {
    await hostUp(eng);
    const vm = await eng.post<{ id: string }>("/vms", guestVmBody("bench-console", dir, "console=ttyS0 vela.shell"));
    vmId = vm.id;
    await eng.post(`/vms/${vmId}/start`, {});
    console.error("# engine, node up; starting the VM");
    await until("VM up", async () => ((await eng.get<{ status: string }>(`/vms/${vmId}`)).status === "up" ? true : undefined), 60_000, 200);
    const gc = `/vms/${vmId}/graphicsconsoles/${VNC}`;
    const port = Number((await eng.get<{ port: string }>(gc)).port);
    const password = (await eng.post<{ ticket: { value: string } }>(`${gc}/ticket`, { ticket: { expiry: 3600 } })).ticket.value;
    const relay = await bareRelay(port);
    type Way = "direct" | "relay" | "proxy";
    const connect = async (way: Way): Promise<RfbClient> => {
      if (way === "direct") return RfbClient.tcp(port);
      if (way === "relay") return RfbClient.tcp(relay.port);
      const pt = await eng.post<{ proxy_ticket: { value: string }; proxy_path: string }>(`${gc}/proxyticket`, {});
      return RfbClient.ws(`${eng.url.replace(/^http/, "ws")}${pt.proxy_path}?ticket=${encodeURIComponent(pt.proxy_ticket.value)}`);
    };
    const open = async (way: Way): Promise<RfbClient> => {
      const c = await connect(way);
      await c.handshake(password);
      return c;
    };
    await keepScreenBusy(eng, vmId);
    const res: Record<Way, { fps: number[]; mib: number[]; ms: number[] }> = {
      direct: { fps: [], mib: [], ms: [] },
      relay: { fps: [], mib: [], ms: [] },
      proxy: { fps: [], mib: [], ms: [] },
    };
    const orders: Way[][] = [["direct", "relay", "proxy"], ["proxy", "relay", "direct"], ["relay", "proxy", "direct"]];
    try {
      for (let r = 0; r < ROUNDS; r++) {
        for (const way of orders[r % orders.length] as Way[]) {
          const c = await open(way);
          const k = res[way];
          await frames(c, 0.5); // warm-up
          const f = await frames(c, SECONDS);
          k.fps.push(f.fps);
          k.mib.push(f.mibPerS);
          c.close();
          k.ms.push(...(await handshakeRtts(() => connect(way), PINGS)));
        }
      }
    } finally {
      relay.proc.kill();
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const line = (name: string, k: { fps: number[]; mib: number[]; ms: number[] }) =>
      `console-proxy ${name} fps=${mean(k.fps).toFixed(1)} MiB_s=${mean(k.mib).toFixed(1)} handshake_rtt_p50_ms=${percentile(k.ms, 50).toFixed(3)} handshake_rtt_p99_ms=${percentile(k.ms, 99).toFixed(3)}`;
    const { direct: d, relay: b, proxy: p } = res;
    console.log(`console-proxy seconds_per_round=${SECONDS} rounds=${ROUNDS} connections_per_round=${PINGS} updates=incremental_raw load1=${loadavg()[0]?.toFixed(2)}`);
    console.log(line("direct", d));
    console.log(line("bare_tcp_relay", b));
    console.log(line("ws_proxy", p));
    console.log(
      `console-proxy vs_direct fps_loss_pct=${((1 - mean(p.fps) / mean(d.fps)) * 100).toFixed(1)} added_p50_ms=${(percentile(p.ms, 50) - percentile(d.ms, 50)).toFixed(3)} (targets: ≤ 5 %, ≤ 2 ms)`,
    );
    console.log(
      `console-proxy vs_bare_relay fps_loss_pct=${((1 - mean(p.fps) / mean(b.fps)) * 100).toFixed(1)} added_p50_ms=${(percentile(p.ms, 50) - percentile(b.ms, 50)).toFixed(3)}`,
    );
  } finally {
    for (const pid of qemuOf(vmId || "none")) process.kill(pid, "SIGKILL");
    await node.stop();
    await eng.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
