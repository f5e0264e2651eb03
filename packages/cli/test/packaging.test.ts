/**
 * The Debian packaging: the systemd units pass `systemd-analyze verify` (and that check does catch
 * a broken unit here), restart with limits against storms, and keep VMs across an agent restart;
 * `vela package` builds vela-engine and vela-node whose metadata (dpkg-deb -f / -c / -I) is what
 * an installation needs; and the unpacked files run: the engine and the agent start, as their
 * units start them (the engine as its bundle), from the package's own /usr/lib/vela tree with
 * their /etc/vela config file, with nothing from the source tree.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { ROOT } from "../src/paths.js";
import { freePort } from "@vela/testkit";

const work = mkdtempSync(join(tmpdir(), "vela-pkg-test-"));
const units = ["vela-engine.service", "vela-node.service"].map((u) => join(ROOT, "packaging", u));

function verify(files: string[]): { status: number | null; said: string } {
  const r = spawnSync("systemd-analyze", ["verify", ...files], { encoding: "utf8" });
  return { status: r.status, said: `${r.stdout}${r.stderr}`.trim() };
}

test("the systemd units pass systemd-analyze verify without a word", () => {
  assert.deepEqual(verify(units), { status: 0, said: "" });
});

test("systemd-analyze verify does report a broken unit on this machine (so the check above means something)", () => {
  const bad = join(work, "vela-node.service");
  writeFileSync(bad, readFileSync(units[1]!, "utf8").replace("Restart=always", "Restart=sometimes"));
  assert.match(verify([bad]).said, /Failed to parse service restart specifier/);
});

test("the units restart always, with storm limits, after the network; the agent's restart leaves VMs running", () => {
  for (const u of units) {
    const text = readFileSync(u, "utf8");
    for (const line of ["Restart=always", "RestartSec=2", "StartLimitIntervalSec=300", "StartLimitBurst=10", "After=network-online.target", "Wants=network-online.target"]) {
      assert.match(text, new RegExp(`^${line}`, "m"), `${u}: ${line}`);
    }
  }
  const node = readFileSync(units[1]!, "utf8");
  assert.match(node, /^KillMode=process$/m, "QEMU processes are not killed with the agent");
  assert.match(node, /^LimitNOFILE=65536$/m);
  assert.doesNotMatch(node, /^User=/m, "the agent runs as root (QEMU, LVM, mounts)");
  assert.match(readFileSync(units[0]!, "utf8"), /^User=vela$/m, "the engine does not run as root");
});

let debs: { engine: string; node: string };
const field = (deb: string, f: string) => execFileSync("dpkg-deb", ["-f", deb, f], { encoding: "utf8" }).trim();
const contents = (deb: string) => execFileSync("dpkg-deb", ["-c", deb], { encoding: "utf8" });

before(() => {
  const out = join(work, "out");
  const r = spawnSync(process.execPath, [join(ROOT, "packages/cli/dist/src/main.js"), "package"], { encoding: "utf8", env: { ...process.env, VELA_PACKAGE_OUT: out } });
  assert.equal(r.status, 0, r.stderr);
  const printed = r.stdout.trim().split("\n");
  debs = { engine: printed.find((p) => /\/vela-engine_[^/]+_amd64\.deb$/.test(p))!, node: printed.find((p) => /\/vela-node_[^/]+_all\.deb$/.test(p))! };
  assert.ok(debs.engine && debs.node, `printed paths: ${r.stdout}`);
});

test("vela-engine: depends on Node.js and no QEMU; ships its unit, conffile, code and npm dependencies", () => {
  const deps = field(debs.engine, "Depends");
  assert.match(deps, /nodejs \(>= 20\)/);
  assert.doesNotMatch(deps, /qemu|lvm2|safelease/);
  const c = contents(debs.engine);
  for (const f of [
    "./lib/systemd/system/vela-engine.service",
    "./etc/vela/engine.conf",
    "./usr/lib/vela/engine/dist/src/main.js",
    "./usr/lib/vela/engine/dist/bundle/main.js",
    "./usr/lib/vela/engine/node_modules/fastify/package.json",
    // the LDAP client, without the declaration-only @types/asn1 it lists as a dependency
    "./usr/lib/vela/engine/node_modules/ldapts/package.json",
    "./usr/lib/vela/engine/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
    "./usr/lib/vela/engine/node_modules/@vela/protocol/dist/src/index.js",
    "./usr/lib/vela/engine/node_modules/@vela/portal/dist/index.html",
    "./usr/share/doc/vela-engine/copyright",
  ]) assert.ok(c.includes(` ${f}\n`), `${f} in vela-engine`);
  // The portal's script is named by its content (packages/portal/build.mjs).
  assert.match(c, / \.\/usr\/lib\/vela\/engine\/node_modules\/@vela\/portal\/dist\/main-[A-Z0-9]+\.js\n/, "the portal's script in vela-engine");
  assert.doesNotMatch(c, /\/vela\/engine\/dist\/test\/|\.d\.ts\n|\.map\n|node_modules\/(typescript|@biomejs|@types)\//, "no tests, declarations, source maps or dev dependencies");
  assert.ok(c.includes(" ./usr/bin/vela-engine -> ../lib/vela/engine/dist/bundle/main.js\n"), "vela-engine on the PATH runs the bundle, as the unit does");
  assert.match(execFileSync("dpkg-deb", ["-I", debs.engine, "conffiles"], { encoding: "utf8" }), /^\/etc\/vela\/engine\.conf$/m);
});

test("vela-node: depends on QEMU, LVM, safelease, iproute2; ships its unit and conffile", () => {
  const deps = field(debs.node, "Depends");
  for (const d of ["nodejs (>= 20)", "qemu-system-x86", "qemu-utils", "lvm2", "safelease", "iproute2"]) assert.ok(deps.includes(d), `${d} in ${deps}`);
  const c = contents(debs.node);
  for (const f of ["./lib/systemd/system/vela-node.service", "./etc/vela/node.conf", "./usr/lib/vela/node/dist/src/main.js"]) assert.ok(c.includes(` ${f}\n`), `${f} in vela-node`);
  assert.ok(c.includes(" ./usr/bin/vela-node -> ../lib/vela/node/dist/src/main.js\n"), "vela-node on the PATH (vela-node join …)");
  assert.match(execFileSync("dpkg-deb", ["-I", debs.node, "conffiles"], { encoding: "utf8" }), /^\/etc\/vela\/node\.conf$/m);
});

/** Starts `main` until its READY line, runs `check` against it, stops it; returns the line (or throws with what it said). */
function startUntilReady(main: string, env: NodeJS.ProcessEnv, check: (ready: string) => Promise<void> = async () => undefined): Promise<string> {
  return new Promise((res, rej) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VELA_") && k !== "NODE_PATH"));
    // cwd / and no NODE_PATH: modules can only come from the unpacked tree.
    const p = spawn(process.execPath, [main], { cwd: "/", env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /^VELA-[A-Z]+-READY.*$/m.exec(out);
      if (m && !p.killed) {
        const line = m[0];
        check(line)
          .then(() => res(line), rej)
          .finally(() => p.kill("SIGTERM"));
      }
    });
    p.on("exit", (code) => rej(new Error(`${main} exited (${code}) before READY: ${err.slice(-1500)}`)));
  });
}

test("the unpacked packages run: engine and agent start from /usr/lib/vela with their config files", async () => {
  const root = join(work, "root");
  mkdirSync(root);
  for (const d of [debs.engine, debs.node]) execFileSync("dpkg-deb", ["-x", d, root]);
  const engineConf = join(work, "engine.conf");
  writeFileSync(engineConf, `${readFileSync(join(root, "etc/vela/engine.conf"), "utf8")}\nVELA_ENGINE_PORT=0\n`.replace("VELA_HOME=/var/lib/vela/engine", `VELA_HOME=${join(work, "engine-home")}`));
  // the run's test CA in the engine's home (fetch() trusts it); the agent serves only with a
  // certificate: the run's test node certificate stands for an enrolled one
  const pki = process.env.VELA_TEST_PKI ?? "";
  for (const [dir, files] of [
    [join(work, "engine-home", "pki"), ["ca.pem", "ca.key", "engine.pem", "engine.key"]],
    [join(work, "node-run", "pki"), ["ca.pem", "node.pem", "node.key"]],
  ] as const) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of files) copyFileSync(join(pki, f), join(dir, f));
  }
  // The engine from the package serves the portal from the package.
  const portal = async (ready: string) => {
    const url = /url=(\S+)/.exec(ready)?.[1];
    const page = await fetch(`${url}/ovirt-engine/web/`);
    assert.equal(page.status, 200, "the portal's page");
    const script = /<script type="module" src="(\/ovirt-engine\/web\/main-[A-Z0-9]+\.js)">/.exec(await page.text())?.[1];
    assert.ok(script, "the page loads the portal's script (named by its content)");
    assert.equal((await fetch(`${url}${script}`)).status, 200, "the portal's JavaScript");
  };
  // What the unit runs (the engine's bundle), found in the unpacked tree.
  const execStart = /^ExecStart=\/usr\/bin\/node \/(\S+)$/m.exec(readFileSync(join(root, "lib/systemd/system/vela-engine.service"), "utf8"))?.[1];
  assert.equal(execStart, "usr/lib/vela/engine/dist/bundle/main.js");
  assert.match(await startUntilReady(join(root, execStart ?? ""), { VELA_ENGINE_CONF: engineConf }, portal), /^VELA-ENGINE-READY url=https:\/\/127\.0\.0\.1:\d+ .* ca=\S+engine-home\/pki\/ca\.pem$/);
  const nodeConf = join(work, "node.conf");
  writeFileSync(nodeConf, readFileSync(join(root, "etc/vela/node.conf"), "utf8").replace("VELA_NODE_RUN=/var/lib/vela/node", `VELA_NODE_RUN=${join(work, "node-run")}\nVELA_NODE_PORT=${await freePort()}\nVELA_NODE_ACCEL=tcg`));
  assert.match(await startUntilReady(join(root, "usr/lib/vela/node/dist/src/main.js"), { VELA_NODE_CONF: nodeConf }), /^VELA-NODE-READY .* tls=on$/);
});
