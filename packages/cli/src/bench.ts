/** `vela bench [name…]`: runs benchmarks from bench/ (each prints one line per case). */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./paths.js";

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
    process.stdout.write(`# bench ${name}\n`);
    const r = spawnSync(process.execPath, [join(dir, `${name}.js`)], { stdio: "inherit", cwd: ROOT });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}
