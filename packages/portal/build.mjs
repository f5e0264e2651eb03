#!/usr/bin/env node
// Builds the web portal: esbuild bundles src/main.tsx (Preact, TypeScript) and its CSS into dist/,
// each file named with its content's hash, and writes dist/index.html, which loads them by
// absolute path under /ovirt-engine/web/. Types are
// checked by `tsc -b` (tsconfig.json, noEmit); this only bundles. Fails when the JavaScript grows
// past the 300 KB gzipped budget. Run by ./vela after tsc, so `./vela up` and `./vela test` build it.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const BUDGET = 300 * 1024;

// Up to date (every source older than the last build): nothing to do, so `./vela` stays quick and
// an engine serving dist/ meanwhile never sees files half-written.
const stamp = join(dist, "index.html");
const sources = [join(here, "build.mjs"), join(here, "package.json"), ...readdirSync(join(here, "src"), { recursive: true }).map((f) => join(here, "src", f))];
if (existsSync(stamp) && sources.every((f) => statSync(f).mtimeMs <= statSync(stamp).mtimeMs)) process.exit(0);
// Chunks carry their hash in their name: the last build's are removed, not left to pile up.
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const result = await build({
  entryPoints: [join(here, "src/main.tsx")],
  outdir: dist,
  bundle: true,
  minify: true,
  format: "esm",
  // The serial terminal (xterm.js) is a chunk of its own, loaded when a console is opened, so
  // the first page load carries only the portal itself.
  splitting: true,
  chunkNames: "chunk-[hash]",
  // Every file carries its content's hash in its name, so the engine lets browsers keep them
  // (immutable) and a reload asks only for index.html, which names this build's files.
  entryNames: "[name]-[hash]",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  sourcemap: false,
  legalComments: "linked",
  metafile: true,
  absWorkingDir: here,
  logLevel: "warning",
});
const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === "src/main.tsx");
if (!entry || !entry[1].cssBundle) throw new Error("portal: esbuild named no main script and style sheet");
const base = (out) => out.slice(out.lastIndexOf("/") + 1);
const page = readFileSync(join(here, "src/index.html"), "utf8")
  .replace("/ovirt-engine/web/main.css", `/ovirt-engine/web/${base(entry[1].cssBundle)}`)
  .replace("/ovirt-engine/web/main.js", `/ovirt-engine/web/${base(entry[0])}`);
writeFileSync(join(dist, "index.html"), page);
let js = 0;
for (const out of Object.keys(result.metafile.outputs)) {
  if (out.endsWith(".js")) js += gzipSync(readFileSync(join(here, out))).length;
}
if (js > BUDGET) {
  console.error(`portal: ${js} bytes of JavaScript gzipped, over the ${BUDGET} byte budget`);
  process.exit(1);
}
