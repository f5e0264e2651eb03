/**
 * Benchmark (issue 10): a VM's VNC console through the engine's WebSocket proxy vs a direct VNC
 * connection, in the same run, on the same guest (real engine, node and QEMU under TCG).
 * Frames: back-to-back full-screen, non-incremental FramebufferUpdateRequests (raw encoding), for
 * a fixed time; latency: the round trip of a 1×1-pixel update request. Direct and proxied rounds
 * alternate so that load drifts hit both alike.
 *   node bench/dist/src/console-proxy.js [seconds_per_round=5] [rounds=3] [pings=300]
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { loadavg } from "node:os";
import { GUEST_SCRIPT } from "@vela/cli/paths";
import { RfbClient } from "@vela/engine/dist/test/rfb.js";
import { hostUp, qemuOf, startEngine, startNode, until } from "@vela/engine/dist/test/support.js";

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 3);
const PINGS = Number(process.argv[4] ?? 300);
const VNC = "766e63";

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) : Number.NaN;
}

/** Full frames per second for `seconds`. */
async function frames(c: RfbClient, seconds: number): Promise<{ fps: number; mibPerS: number }> {
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let n = 0;
  let bytes = 0;
  while (performance.now() < end) {
    c.requestUpdate(false);
    bytes += (await c.readUpdate()).bytes;
    n++;
  }
  const s = (performance.now() - t0) / 1000;
  return { fps: n / s, mibPerS: bytes / 2 ** 20 / s };
}

/** Round trips of a 1×1 non-incremental update request, in ms. */
async function pings(c: RfbClient, count: number): Promise<number[]> {
  const out: number[] = [];
  const m = Buffer.alloc(10);
  m[0] = 3;
  m.writeUInt16BE(1, 6);
  m.writeUInt16BE(1, 8);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    c.write(m);
    await c.readUpdate();
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() as string;
  const eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: "bench", VELA_ENGINE_VM_POLL_MS: "500", VELA_LOG_LEVEL: "warn" } });
  const node = await startNode({ engineUrl: eng.url, token: "bench", name: "bench-host", env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_BOOT_DIRS: dir, VELA_LOG_LEVEL: "warn" } });
  let vmId = "";
  try {
    await hostUp(eng);
    const vm = await eng.post<{ id: string }>("/vms", {
      name: "bench-console",
      cluster: { name: "Default" },
      memory: 192 * 2 ** 20,
      os: { type: "other_linux", kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), cmdline: "console=ttyS0" },
    });
    vmId = vm.id;
    await eng.post(`/vms/${vmId}/start`, {});
    await until("VM up", async () => ((await eng.get<{ status: string }>(`/vms/${vmId}`)).status === "up" ? true : undefined), 60_000, 200);
    const gc = `/vms/${vmId}/graphicsconsoles/${VNC}`;
    const port = Number((await eng.get<{ port: string }>(gc)).port);
    const password = (await eng.post<{ ticket: { value: string } }>(`${gc}/ticket`, { ticket: { expiry: 3600 } })).ticket.value;
    const open = async (proxied: boolean): Promise<RfbClient> => {
      let c: RfbClient;
      if (proxied) {
        const pt = await eng.post<{ proxy_ticket: { value: string }; proxy_path: string }>(`${gc}/proxyticket`, {});
        c = await RfbClient.ws(`${eng.url.replace(/^http/, "ws")}${pt.proxy_path}?ticket=${encodeURIComponent(pt.proxy_ticket.value)}`);
      } else {
        c = await RfbClient.tcp(port);
      }
      await c.handshake(password);
      return c;
    };
    const res = { direct: { fps: [] as number[], mib: [] as number[], ms: [] as number[] }, proxy: { fps: [] as number[], mib: [] as number[], ms: [] as number[] } };
    for (let r = 0; r < ROUNDS; r++) {
      for (const proxied of r % 2 === 0 ? [false, true] : [true, false]) {
        const c = await open(proxied);
        const k = proxied ? res.proxy : res.direct;
        await frames(c, 0.5); // warm-up
        const f = await frames(c, SECONDS);
        k.fps.push(f.fps);
        k.mib.push(f.mibPerS);
        k.ms.push(...(await pings(c, PINGS)));
        c.close();
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const { direct: d, proxy: p } = res;
    console.log(`console-proxy seconds_per_round=${SECONDS} rounds=${ROUNDS} pings_per_round=${PINGS} frame=full_screen_raw load1=${loadavg()[0]?.toFixed(2)}`);
    console.log(`console-proxy direct fps=${mean(d.fps).toFixed(1)} MiB_s=${mean(d.mib).toFixed(1)} rtt_p50_ms=${percentile(d.ms, 50).toFixed(3)} rtt_p99_ms=${percentile(d.ms, 99).toFixed(3)}`);
    console.log(`console-proxy proxied fps=${mean(p.fps).toFixed(1)} MiB_s=${mean(p.mib).toFixed(1)} rtt_p50_ms=${percentile(p.ms, 50).toFixed(3)} rtt_p99_ms=${percentile(p.ms, 99).toFixed(3)}`);
    console.log(
      `console-proxy fps_loss_pct=${((1 - mean(p.fps) / mean(d.fps)) * 100).toFixed(1)} added_p50_ms=${(percentile(p.ms, 50) - percentile(d.ms, 50)).toFixed(3)} (targets: ≤ 5 %, ≤ 2 ms)`,
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
