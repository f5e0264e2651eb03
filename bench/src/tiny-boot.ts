/**
 * Benchmark (issue 10): a VM from the `tiny` template with cloud-init, `POST /vms/{id}/start` →
 * the guest's login prompt after cloud-init (TINY-LOGIN-READY on its serial console), under TCG.
 * Baseline in the same run: bare QEMU on the same tiny image and a seed with the same files
 * (the one the node wrote), started directly → the same marker. Alternates the two.
 *   node bench/dist/src/tiny-boot.js [runs=3]
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Rest } from "@vela/cli/rest";
import { up } from "@vela/cli/up";
import { freePort } from "@vela/node/test/harness";
import { until as kitUntil } from "@vela/testkit";
import { seedEnginePki } from "@vela/testkit/tls";

const RUNS = Number(process.argv[2] ?? 3);
const MARK = "TINY-LOGIN-READY";

/** The kit's `until` for a yes/no check, polled often (boot times are what is measured). */
const until = (what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 180_000) => kitUntil(what, async () => ((await fn()) ? true : undefined), timeoutMs, 20);
const has = (f: string) => existsSync(f) && readFileSync(f, "latin1").includes(MARK);

async function bare(image: string, seed: string, dir: string): Promise<number> {
  const top = join(dir, `top-${Date.now()}.qcow2`);
  const log = `${top}.log`;
  await new Promise((r) => spawn("qemu-img", ["create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", top]).once("exit", r));
  const t0 = performance.now();
  const q = spawn("qemu-system-x86_64", [
    "-accel", "tcg", "-m", "256", "-nodefaults", "-display", "none", "-machine", "pc", "-serial", `file:${log}`,
    "-blockdev", JSON.stringify({ driver: "qcow2", "node-name": "d0", file: { driver: "file", filename: top } }),
    "-device", "virtio-blk-pci,drive=d0,bootindex=1",
    "-blockdev", JSON.stringify({ driver: "raw", "node-name": "s0", "read-only": true, file: { driver: "file", filename: seed, "read-only": true } }),
    "-device", "virtio-blk-pci,drive=s0",
  ], { stdio: "ignore" });
  await until("bare guest", () => has(log));
  const ms = performance.now() - t0;
  q.kill("SIGKILL");
  return ms;
}

async function main(): Promise<void> {
  process.env.VELA_NODE_ACCEL = "tcg";
  const home = mkdtempSync(join(tmpdir(), "vela-bench-tiny-"));
  seedEnginePki(home); // the run's CA (vela bench's VELA_TEST_PKI), which this process trusts
  const { stop, info } = await up({ hosts: 1, home, enginePort: await freePort(), nodePort: await freePort(), tiny: true });
  const rest = new Rest(info.url, info.user, info.password);
  try {
    const vm = await rest.post<{ id: string }>("/vms", {
      name: "bench-tiny",
      cluster: { name: "Default" },
      template: { name: "tiny" },
      initialization: { host_name: "bench", root_password: "bench-pw", custom_script: "#!/bin/sh\necho bench\n" },
    });
    const status = async () => (await rest.get<{ status: string }>(`/vms/${vm.id}`)).status;
    await until("VM down", async () => (await status()) === "down");
    const runDir = join(home, "nodes", "node-1", "vms", vm.id);
    const seed = join(home, "seed.iso");
    const vela: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await rest.post(`/vms/${vm.id}/start`, { use_cloud_init: true });
      await until("guest via the API", () => has(join(runDir, "console.log")));
      vela.push(performance.now() - t0);
      copyFileSync(join(runDir, "payload.iso"), seed);
      await rest.post(`/vms/${vm.id}/stop`, {});
      await until("VM down", async () => (await status()) === "down");
      plain.push(await bare(join(home, "images", "tiny.qcow2"), seed, home));
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    console.log(
      `tiny-boot runs=${RUNS} load=${loadavg()[0]!.toFixed(1)} api_start_to_login_ms(median)=${med(vela).toFixed(0)} bare_qemu_ms(median)=${med(plain).toFixed(0)} ` +
        `added_ms=${(med(vela) - med(plain)).toFixed(0)} all_api=[${vela.map((v) => v.toFixed(0)).join(",")}] all_bare=[${plain.map((v) => v.toFixed(0)).join(",")}]`,
    );
  } finally {
    await stop();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
