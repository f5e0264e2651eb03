/**
 * `vela package`: builds the Debian packages vela-engine and vela-node with dpkg-deb. Each holds
 * its built JavaScript and its production npm dependencies under /usr/lib/vela/<side> (so the two
 * can be installed on one machine without sharing a file), its config file in /etc/vela
 * (a conffile), its systemd unit and maintainer scripts from packaging/. The output directory is
 * VELA_PACKAGE_OUT (default ./dist-packages); the paths of the .debs are printed on stdout.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT } from "./paths.js";
import { step } from "./progress.js";

type Side = "engine" | "node";

interface Spec {
  side: Side;
  description: string;
  /** Debian packages this side needs at run time. */
  depends: string[];
  recommends: string[];
}

/** Node.js 20 (Debian 13 "trixie" has it; on Debian 12 take it from NodeSource, see operations.md). */
const NODEJS = "nodejs (>= 20)";

const SPECS: Spec[] = [
  {
    side: "engine",
    description: "Vela engine: REST API (oVirt API v4 shape), database, monitoring\n The central manager of a Vela installation: it keeps the inventory in SQLite,\n serves the REST API and drives the node agents. It runs no VMs itself.",
    // better-sqlite3's compiled module links libc and libstdc++; no QEMU on the engine side.
    depends: [NODEJS, "adduser", "libc6", "libstdc++6", "openssl", "init-system-helpers (>= 1.54)"],
    recommends: [],
  },
  {
    side: "node",
    description: "Vela node agent: runs the VMs, storage and networks of one host\n The host agent of Vela (its VDSM): QEMU over QMP, storage domains in VDSM's\n on-disk format, SPM leases, bridges and taps, driven by the Vela engine.",
    depends: [NODEJS, "qemu-system-x86", "qemu-utils", "qemu-system-common", "lvm2", "safelease", "iproute2", "openssl", "init-system-helpers (>= 1.54)"],
    recommends: ["nfs-common"],
  },
];

const run = (cmd: string, args: string[], cwd = ROOT) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** Version: package.json's, plus the last commit's time so every build of a newer commit sorts higher. */
function debVersion(): string {
  const v = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  try {
    return `${v}+git${run("git", ["log", "-1", "--format=%cd", "--date=format:%Y%m%d%H%M%S"]).trim()}`;
  } catch {
    return v;
  }
}

/** Built JavaScript only: no tests, type declarations or source maps. */
function copyDist(from: string, to: string): void {
  cpSync(from, to, { recursive: true, filter: (src) => !/\.(d\.ts|map|tsbuildinfo)$/.test(src) });
}

/** The top-level production dependencies of a workspace (nested ones come inside them). */
function prodDeps(side: Side): string[] {
  // npm ls exits non-zero on harmless extraneous packages; its list is still complete.
  let out: string;
  try {
    out = run("npm", ["ls", "--omit=dev", "--all", "--parseable", "-w", `packages/${side}`]);
  } catch (e) {
    out = String((e as { stdout?: string }).stdout ?? "");
  }
  const rel = out
    .split("\n")
    .map((p) => relative(ROOT, p.trim()))
    // @types/* are declarations only: some libraries (ldapts) list them as runtime dependencies
    .filter((p) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(p) && !p.startsWith("node_modules/@vela/") && !p.startsWith("node_modules/@types/"));
  if (!rel.length) throw new Error(`npm ls found no production dependencies of packages/${side}`);
  return [...new Set(rel)];
}

/** Not needed to run a module: dotfiles (VCS, linter and npm configs), docs (md, html), shell test scripts, type declarations, source maps. */
const NOT_RUNTIME = /^(\..*|.*\.html?|.*\.md|.*\.markdown|.*\.sh|.*\.d\.[cm]?ts|.*\.map)$/i;

/** What a deployed module does not need: see NOT_RUNTIME; better-sqlite3's sources and build leftovers. */
function prune(modules: string): void {
  for (const f of readdirSync(modules, { recursive: true }) as string[]) {
    if (NOT_RUNTIME.test(basename(f))) rmSync(join(modules, f), { recursive: true, force: true });
  }
  const b = join(modules, "better-sqlite3");
  if (!existsSync(b)) return;
  for (const d of ["deps", "src", "binding.gyp"]) rmSync(join(b, d), { recursive: true, force: true });
  const release = join(b, "build/Release");
  for (const e of readdirSync(join(b, "build"))) if (e !== "Release") rmSync(join(b, "build", e), { recursive: true, force: true });
  for (const e of readdirSync(release)) if (e !== "better_sqlite3.node") rmSync(join(release, e), { recursive: true, force: true });
  // Debug symbols are 2/3 of it; a shared object is not executable.
  run("strip", ["--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", join(release, "better_sqlite3.node")]);
}

function hasNativeCode(dir: string): boolean {
  return (readdirSync(dir, { recursive: true }) as string[]).some((f) => f.endsWith(".node"));
}

function duKiB(dir: string): number {
  return Number(run("du", ["-sk", "--apparent-size", dir]).split("\t")[0]);
}

/** A Debian changelog entry for this build (lintian wants one, compressed). */
function changelog(name: string, version: string): Buffer {
  const date = new Date().toUTCString().replace("GMT", "+0000");
  const text = `${name} (${version}) unstable; urgency=medium\n\n  * Built by ./vela package from the Vela source tree.\n\n -- Vela developers <vela-devel@lists.example.org>  ${date}\n`;
  return gzipSync(Buffer.from(text), { level: 9 });
}

function buildOne(spec: Spec, version: string, out: string, work: string): string {
  const name = `vela-${spec.side}`;
  const root = join(work, name);
  const lib = join(root, "usr/lib/vela", spec.side);
  mkdirSync(lib, { recursive: true });
  writeFileSync(join(lib, "package.json"), `${JSON.stringify({ name: `@vela/${spec.side}`, version, private: true, type: "module" }, null, 2)}\n`);
  copyDist(join(ROOT, "packages", spec.side, "dist/src"), join(lib, "dist/src"));
  const modules = join(lib, "node_modules");
  for (const dep of prodDeps(spec.side)) cpSync(join(ROOT, dep), join(modules, dep.slice("node_modules/".length)), { recursive: true, dereference: true });
  const proto = join(modules, "@vela/protocol");
  mkdirSync(proto, { recursive: true });
  cpSync(join(ROOT, "packages/protocol/package.json"), join(proto, "package.json"));
  copyDist(join(ROOT, "packages/protocol/dist/src"), join(proto, "dist/src"));
  prune(modules);
  if (spec.side === "engine") {
    // The web portal's built files (after prune, which drops .html): the engine finds them as @vela/portal.
    const portal = join(modules, "@vela/portal");
    mkdirSync(portal, { recursive: true });
    writeFileSync(join(portal, "package.json"), `${JSON.stringify({ name: "@vela/portal", version, private: true }, null, 2)}\n`);
    cpSync(join(ROOT, "packages/portal/dist"), join(portal, "dist"), { recursive: true });
  }

  const etc = join(root, "etc/vela");
  mkdirSync(etc, { recursive: true });
  cpSync(join(ROOT, "packaging", `${spec.side}.conf`), join(etc, `${spec.side}.conf`));
  const units = join(root, "lib/systemd/system");
  mkdirSync(units, { recursive: true });
  cpSync(join(ROOT, "packaging", `${name}.service`), join(units, `${name}.service`));
  // The command an administrator types (`vela-node join https://ENGINE --token T`, `vela-engine`).
  const bin = join(root, "usr/bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync(`../lib/vela/${spec.side}/dist/src/main.js`, join(bin, name));
  const man = join(root, "usr/share/man/man8");
  mkdirSync(man, { recursive: true });
  writeFileSync(join(man, `${name}.8.gz`), gzipSync(readFileSync(join(ROOT, "packaging", `${name}.8`)), { level: 9 }));
  const doc = join(root, "usr/share/doc", name);
  mkdirSync(doc, { recursive: true });
  cpSync(join(ROOT, "packaging/copyright"), join(doc, "copyright"));
  cpSync(join(ROOT, "docs/operations.md"), join(doc, "operations.md"));
  writeFileSync(join(doc, "changelog.gz"), changelog(name, version));
  const overrides = join(ROOT, "packaging", `${name}.lintian-overrides`);
  if (existsSync(overrides)) {
    mkdirSync(join(root, "usr/share/lintian/overrides"), { recursive: true });
    cpSync(overrides, join(root, "usr/share/lintian/overrides", name));
  }

  const arch = hasNativeCode(lib) ? run("dpkg", ["--print-architecture"]).trim() : "all";
  const debian = join(root, "DEBIAN");
  mkdirSync(debian, { recursive: true });
  const control = [
    `Package: ${name}`,
    `Version: ${version}`,
    `Architecture: ${arch}`,
    "Maintainer: Vela developers <vela-devel@lists.example.org>",
    `Installed-Size: ${duKiB(root)}`,
    `Depends: ${spec.depends.join(", ")}`,
    ...(spec.recommends.length ? [`Recommends: ${spec.recommends.join(", ")}`] : []),
    "Section: admin",
    "Priority: optional",
    `Description: ${spec.description}`,
  ];
  writeFileSync(join(debian, "control"), `${control.join("\n")}\n`);
  writeFileSync(join(debian, "conffiles"), `/etc/vela/${spec.side}.conf\n`);
  for (const script of ["postinst", "prerm", "postrm"]) {
    const src = join(ROOT, "packaging", `${name}.${script}`);
    if (!existsSync(src)) continue;
    cpSync(src, join(debian, script));
    chmodSync(join(debian, script), 0o755);
  }
  normalizeModes(root);
  const deb = join(out, `${name}_${version}_${arch}.deb`);
  // gzip, not xz: xz took over a minute per package on a busy build box, gzip seconds.
  run("dpkg-deb", ["--build", "--root-owner-group", "-Zgzip", root, deb]);
  return deb;
}

/** Directories 0755; files 0755 when they are scripts (#!), else 0644: what dpkg and lintian expect. */
function normalizeModes(dir: string): void {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const st = statSync(p);
    if (st.isDirectory()) {
      chmodSync(p, 0o755);
      normalizeModes(p);
    } else chmodSync(p, isScript(p) ? 0o755 : 0o644);
  }
}

function isScript(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString("latin1") === "#!";
  } finally {
    closeSync(fd);
  }
}

export function packageCommand(): number {
  const out = resolve(process.env.VELA_PACKAGE_OUT || join(ROOT, "dist-packages"));
  mkdirSync(out, { recursive: true });
  const version = debVersion();
  const work = mkdtempSync(join(tmpdir(), "vela-package-"));
  try {
    for (const spec of SPECS) {
      step(`building vela-${spec.side} ${version}`);
      const deb = buildOne(spec, version, out, work);
      process.stdout.write(`${deb}\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  step(`packages are in ${out}; install one with apt-get install <path of the file> (docs/operations.md)`);
  return 0;
}
