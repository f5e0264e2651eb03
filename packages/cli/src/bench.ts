/** `vela bench [name…]`: runs benchmarks from bench/ (each prints one line per case). */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./paths.js";
import { makeTestPki } from "./testpki.js";

/**
 * Benchmarks start engines and agents with the test kit, which takes its certificates from the
 * run's test CA (as `vela test` makes one): one per bench run unless VELA_TEST_PKI names one.
 */
function benchEnv(): { env: NodeJS.ProcessEnv; cleanup: () => void } {
  if (process.env.VELA_TEST_PKI) return { env: process.env, cleanup: () => undefined };
  const tmp = mkdtempSync(join(tmpdir(), "vb-"));
  const pki = join(tmp, "test-pki");
  makeTestPki(pki);
  return { env: { ...process.env, VELA_TEST_PKI: pki, NODE_EXTRA_CA_CERTS: join(pki, "ca.pem") }, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

export function benchCommand(args: string[]): number {
  const dir = join(ROOT, "bench/dist/src");
  const all = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".js")).map((f) => f.replace(/\.js$/, "")) : [];
  const names = args.filter((a) => !a.startsWith("-"));
  const chosen = names.length ? names : all;
  for (const name of chosen) {
    if (!all.includes(name)) {
      process.stderr.write(`vela: no benchmark ${name} (have: ${all.join(", ")})\n`);
      return 2;
    }
  }
  const { env, cleanup } = benchEnv();
  try {
    for (const name of chosen) {
      process.stdout.write(`# bench ${name}\n`);
      const r = spawnSync(process.execPath, [join(dir, `${name}.js`)], { stdio: "inherit", cwd: ROOT, env });
      if (r.status !== 0) return r.status ?? 1;
    }
    return 0;
  } finally {
    cleanup();
  }
}
