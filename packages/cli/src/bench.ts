/**
 * `vela bench [name…] [-- args]`: runs benchmarks from bench/ (each prints one line per case). Benchmarks
 * start engines and agents through the test kits, which need a run's test CA as `vela test` makes
 * one (VELA_TEST_PKI, NODE_EXTRA_CA_CERTS): the same is made here in a private directory.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./paths.js";
import { makeTestPki } from "./testpki.js";

export function benchCommand(args: string[]): number {
  const dir = join(ROOT, "bench/dist/src");
  const all = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".js")).map((f) => f.replace(/\.js$/, "")) : [];
  // `vela bench NAME -- ARGS…` passes ARGS to the benchmark
  const cut = args.indexOf("--");
  const extra = cut >= 0 ? args.slice(cut + 1) : [];
  const names = (cut >= 0 ? args.slice(0, cut) : args).filter((a) => !a.startsWith("-"));
  const chosen = names.length ? names : all;
  for (const name of chosen) {
    if (!all.includes(name)) {
      process.stderr.write(`vela: no benchmark ${name} (have: ${all.join(", ")})\n`);
      return 2;
    }
  }
  const pki = mkdtempSync(join(tmpdir(), "vela-bench-pki-"));
  try {
    makeTestPki(pki);
    const env = { ...process.env, VELA_TEST_PKI: pki, NODE_EXTRA_CA_CERTS: join(pki, "ca.pem") };
    for (const name of chosen) {
      process.stdout.write(`# bench ${name}\n`);
      const r = spawnSync(process.execPath, [join(dir, `${name}.js`), ...extra], { stdio: "inherit", cwd: ROOT, env });
      if (r.status !== 0) return r.status ?? 1;
    }
    return 0;
  } finally {
    rmSync(pki, { recursive: true, force: true });
  }
}
