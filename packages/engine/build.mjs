#!/usr/bin/env node
// Bundles the engine for production start: esbuild turns tsc's output (dist/src/main.js and the
// ~900 modules it reaches, ours and our dependencies') into dist/bundle/main.js — everything the
// engine needs to answer its first request — plus one chunk per part loaded on first use (the
// API's resource modules, monitoring, the console proxy, prom-client, …), which stay off the start
// path as they are unbundled. That is what `./vela up`, the Debian package (its unit and the
// `vela-engine` command) and `./vela bench engine-start` run: loading a few files instead of ~400
// ES modules is most of the engine's start time (docs/benchmarks.md). Native and optional modules
// stay outside, found in node_modules at run time as before. dist/src/main.js keeps working
// unbundled (most tests start it). Run by ./vela after tsc, so `./vela up` and `./vela test` build it.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "dist/bundle");
const outFile = join(outDir, "main.js");

/**
 * Stay outside the bundle: better-sqlite3 loads its compiled .node file from its own directory;
 * pg's optional parts (pg-native, pg-cloudflare for Cloudflare Workers) are never used; ws's optional native
 * helpers (bufferutil, utf-8-validate) may or may not be installed. And what fastify requires only
 * when asked, which the engine never asks: its JSON-schema compilers (ajv, fast-json-stringify,
 * fast-uri: api/server.ts gives it compilers that refuse) and light-my-request (inject(), for
 * tests); inside, they were ~450 KB of the 1.5 MB the start path parses.
 */
const EXTERNAL = [
  "better-sqlite3",
  "pg-native",
  "pg-cloudflare",
  "bufferutil",
  "utf-8-validate",
  "@fastify/ajv-compiler",
  "@fastify/fast-json-stringify-compiler",
  "light-my-request",
];

/** Every file the bundle is made from: tsc's output of the engine and of @vela/protocol, and this script. */
function inputs() {
  const files = [join(here, "build.mjs"), join(here, "package.json"), join(here, "../../package-lock.json")];
  for (const dir of [join(here, "dist/src"), join(here, "../protocol/dist/src")]) {
    for (const f of readdirSync(dir, { recursive: true })) if (f.endsWith(".js")) files.push(join(dir, f));
  }
  return files;
}

/**
 * deps.ts and api/body.ts load some packages with `createRequire(import.meta.url)(name)` (a
 * synchronous require is quicker than the ES module loader when unbundled). esbuild only follows a
 * plain `require(name)`: inside the bundle, that expression is the module-wide `require` the
 * banner defines, so esbuild bundles what it names and leaves `require.resolve` (the portal's and
 * noVNC's files) to find packages at run time.
 */
const plainRequire = {
  name: "plain-require",
  setup(b) {
    b.onLoad({ filter: /[\\/]engine[\\/]dist[\\/]src[\\/].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!text.includes("createRequire(import.meta.url)")) return undefined;
      const contents = text.replace(/const require = createRequire\(import\.meta\.url\);/g, "").replace(/\bcreateRequire\(import\.meta\.url\)/g, "require");
      return { contents, loader: "js" };
    });
  },
};

async function bundle() {
  // Chunks carry their hash in their name: the last build's are removed, not left to pile up.
  rmSync(outDir, { recursive: true, force: true });
  await build({
    entryPoints: { main: join(here, "dist/src/main.js") },
    outdir: outDir,
    bundle: true,
    splitting: true,
    chunkNames: "chunk-[hash]",
    platform: "node",
    format: "esm",
    target: "node20",
    external: EXTERNAL,
    plugins: [plainRequire],
    // `require` for the bundled CommonJS packages' own calls and the external ones, as in a
    // CommonJS module; the shebang makes the file the `vela-engine` command.
    banner: { js: 'import { createRequire as __velaCreateRequire } from "node:module";\nconst require = __velaCreateRequire(import.meta.url);' },
    // Half the bytes to read and parse; names are kept, so stack traces still say which function.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    logLevel: "warning",
    absWorkingDir: here,
  });
}

// Up to date (every input older than the bundle): nothing to do, so `./vela` stays quick and an
// engine running from dist/bundle meanwhile never loses a chunk it has yet to load.
const fresh = existsSync(outFile) && inputs().every((f) => statSync(f).mtimeMs <= statSync(outFile).mtimeMs);
if (!fresh) await bundle();
