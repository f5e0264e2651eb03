/**
 * `vela bench [name…]`: runs benchmarks from bench/ (each prints one line per case). The benchmarks
 * start agents and engines with the test kit, which speak mutual TLS only: like `vela test`, a run
 * makes its own throw-away CA (VELA_TEST_PKI) and a private TMPDIR, both removed afterwards.
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
  // `vela bench create-volume -- 20`: what follows `--` goes to each benchmark (e.g. its count).
  const dash = args.indexOf("--");
  const passed = dash >= 0 ? args.slice(dash + 1) : [];
  const names = (dash >= 0 ? args.slice(0, dash) : args).filter((a) => !a.startsWith("-"));
  const chosen = names.length ? names : all;
  const unknown = chosen.filter((n) => !all.includes(n));
  if (unknown.length) {
    process.stderr.write(`vela: no benchmark ${unknown.join(", ")} (have: ${all.join(", ")})\n`);
    return 2;
  }
  // Short name: QMP and mailbox socket paths under it must fit in sun_path (108 bytes).
  const tmp = mkdtempSync(join(tmpdir(), "vb-"));
  try {
    const pki = join(tmp, "test-pki");
    makeTestPki(pki);
    const env = { VELA_ENGINE_CONF: "", VELA_NODE_CONF: "", ...process.env, TMPDIR: tmp, VELA_TEST_PKI: pki, NODE_EXTRA_CA_CERTS: join(pki, "ca.pem") };
    for (const name of chosen) {
      process.stdout.write(`# bench ${name}\n`);
      const r = spawnSync(process.execPath, [join(dir, `${name}.js`), ...passed], { stdio: "inherit", cwd: ROOT, env });
      if (r.status !== 0) return r.status ?? 1;
    }
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
