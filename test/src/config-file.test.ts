/**
 * Config files of the installed services: the engine and the node agent read KEY=VALUE settings
 * from /etc/vela/{engine,node}.conf (or the file VELA_ENGINE_CONF / VELA_NODE_CONF names), the
 * environment wins over the file, and a file with an unknown key, a malformed line, a key given
 * twice or a bad value stops the start with a message naming the file and line — before anything
 * is written. Real engine and agent processes; the parser itself on its edge cases.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ENGINE_MAIN, NODE_MAIN, ROOT } from "@vela/cli/paths";
import { freePort } from "@vela/node/test/harness";
import { ConfError, parseConf } from "@vela/protocol";
import { seedNodePki } from "@vela/node/test/tls";

const dir = mkdtempSync(join(tmpdir(), "vela-conf-"));
let n = 0;

function confFile(text: string): string {
  const f = join(dir, `c${++n}.conf`);
  writeFileSync(f, text);
  return f;
}

/** Runs a service until its READY line (then SIGTERM) or its exit; returns what it said. */
function run(main: string, env: NodeJS.ProcessEnv): Promise<{ ready?: string; code: number | null; stderr: string }> {
  return new Promise((res) => {
    // Only what the test gives: no VELA_* from the environment of the test runner.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VELA_")));
    const p = spawn(process.execPath, [main], { env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let stderr = "";
    let ready: string | undefined;
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /^VELA-[A-Z]+-READY.*$/m.exec(out);
      if (m && !ready) {
        ready = m[0];
        p.kill("SIGTERM");
      }
    });
    const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("exit", (code) => {
      clearTimeout(t);
      res({ ready, code, stderr });
    });
  });
}

test("the engine takes its settings from the config file; the environment wins over it", async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const home = join(dir, "engine-home");
  const f = confFile(`# engine settings\n\nVELA_HOME=${home}\nVELA_ENGINE_PORT = ${p1}\nVELA_ADMIN_PASSWORD="from-the-file 1"\n# plain HTTP only when asked for\nVELA_ENGINE_TLS=off\n`);
  const r = await run(ENGINE_MAIN, { VELA_ENGINE_CONF: f });
  assert.match(r.ready ?? "", new RegExp(`url=http://127.0.0.1:${p1} user=admin@internal password=from-the-file 1$`), r.stderr);
  assert.match(r.stderr, /"msg":"config file read"/);
  const r2 = await run(ENGINE_MAIN, { VELA_ENGINE_CONF: f, VELA_ENGINE_PORT: String(p2) });
  assert.match(r2.ready ?? "", new RegExp(`url=http://127.0.0.1:${p2} `), r2.stderr);
});

test("an engine config file with bad lines stops the start, names every bad line, writes nothing", async () => {
  const home = join(dir, "never-made");
  const f = confFile(`VELA_HOME=${home}\nVELA_ENGINE_PORTT=1\nnot a setting\nVELA_HOME=/tmp/x\nVELA_LOG_LEVEL="info\n`);
  const r = await run(ENGINE_MAIN, { VELA_ENGINE_CONF: f });
  assert.equal(r.ready, undefined);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${f}: invalid configuration, nothing of it was used`));
  assert.match(r.stderr, /line 2: unknown key VELA_ENGINE_PORTT/);
  assert.match(r.stderr, /line 3: expected KEY=VALUE/);
  assert.match(r.stderr, /line 4: VELA_HOME given twice/);
  assert.match(r.stderr, /line 5: VELA_LOG_LEVEL has a malformed value/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "a configuration mistake is one message, not a stack trace");
  assert.equal(existsSync(home), false, "no data directory made");
});

test("a bad value in the engine's file, or a named file that is missing, stops the start before anything is written", async () => {
  const home = join(dir, "never-made-2");
  const bad = await run(ENGINE_MAIN, { VELA_ENGINE_CONF: confFile(`VELA_HOME=${home}\nVELA_ENGINE_HOST_POLL_MS=fast\n`) });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /VELA_ENGINE_HOST_POLL_MS: bad integer "fast"/);
  assert.equal(existsSync(home), false, "no data directory made");
  const missing = await run(ENGINE_MAIN, { VELA_ENGINE_CONF: join(dir, "no-such.conf"), VELA_HOME: home });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no-such\.conf: .*\n.*no such file \(named by VELA_ENGINE_CONF\)/);
  const relative = await run(ENGINE_MAIN, { VELA_ENGINE_CONF: "engine.conf", VELA_HOME: home });
  assert.match(relative.stderr, /VELA_ENGINE_CONF must be an absolute path/);
  assert.equal(existsSync(home), false);
});

test("the node agent takes its settings from its config file; bad keys and values stop it before its run directory is made", async () => {
  const port = await freePort();
  const run1 = join(dir, "node-run");
  const f = confFile(`VELA_NODE_PORT=${port}\nVELA_NODE_RUN=${run1}\nVELA_NODE_NAME='conf host'\nVELA_NODE_ACCEL=tcg\n`);
  // without a certificate and an engine to enroll with, the agent does not start (it never serves in the clear by itself)
  const noCert = await run(NODE_MAIN, { VELA_NODE_CONF: f });
  assert.equal(noCert.code, 1, noCert.stderr);
  assert.match(noCert.stderr, /ENROLL_FAILED: no certificate in .*node-run\/pki .*vela-node join/);
  seedNodePki(join(run1, "pki"));
  const ok = await run(NODE_MAIN, { VELA_NODE_CONF: f });
  assert.match(ok.ready ?? "", new RegExp(`^VELA-NODE-READY port=${port} `), ok.stderr.slice(-2000));
  assert.ok(existsSync(join(run1, "host.id")), "the run directory of the file was used");

  const run2 = join(dir, "node-run-never");
  for (const [text, why] of [
    [`VELA_NODE_RUN=${run2}\nVELA_NODE_PROT=1\n`, /line 2: unknown key VELA_NODE_PROT/],
    [`VELA_NODE_RUN=${run2}\nVELA_NODE_PORT=99999\n`, /VELA_NODE_PORT: bad integer "99999" \(expected 1\.\.65535\)/],
    [`VELA_NODE_RUN=${run2}\nVELA_NODE_ACCEL=xen\n`, /VELA_NODE_ACCEL: expected kvm or tcg/],
    [`VELA_NODE_RUN=${run2}\nVELA_NODE_SPM_AUTO=maybe\n`, /VELA_NODE_SPM_AUTO: expected yes or no, got "maybe"/],
    [`VELA_NODE_RUN=${run2}\nVELA_NODE_TLS=perhaps\n`, /VELA_NODE_TLS: expected yes or no, got "perhaps"/],
  ] as const) {
    const r = await run(NODE_MAIN, { VELA_NODE_CONF: confFile(text) });
    assert.equal(r.code, 1, `${text}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.equal(existsSync(run2), false, `no run directory made for ${JSON.stringify(text)}`);
  }
});

test("parseConf: comments, blanks, quotes, empty values; every problem reported at once", () => {
  const known = ["A_B", "C"];
  assert.deepEqual(parseConf("# c\n\n  A_B = x y  \nC=\n", known, "/f"), { A_B: "x y", C: "" });
  assert.deepEqual(parseConf("A_B='a # b'\r\nC=\"\"\n", known, "/f"), { A_B: "a # b", C: "" });
  const e = (() => {
    try {
      parseConf("a_b=1\n=2\nC=x\\y\nC='1\"\nD=1\n", known, "/f");
    } catch (err) {
      return err;
    }
  })();
  assert.ok(e instanceof ConfError);
  assert.equal(e.code, "CONF_INVALID");
  assert.deepEqual(
    e.problems.map((p) => p.replace(/:.*/, "")),
    ["line 1", "line 2", "line 3", "line 4", "line 5"],
  );
});

test("every VELA_ setting the engine and the node read is a config file key", () => {
  for (const [pkg, file, skip] of [
    ["engine", "conffile.ts", ["VELA_ENGINE_CONF"]],
    ["node", "conffile.ts", ["VELA_NODE_CONF", "VELA_TEST_FAULTS"]],
  ] as const) {
    const src = join(ROOT, "packages", pkg, "src");
    const keys = new Set([...readFileSync(join(src, file), "utf8").matchAll(/^\s+"(VELA_[A-Z0-9_]+)",$/gm)].map((m) => m[1]));
    const used = new Set<string>();
    for (const f of readdirSync(src, { recursive: true }) as string[]) {
      if (!f.endsWith(".ts")) continue;
      for (const m of readFileSync(join(src, f), "utf8").matchAll(/(?:env|process\.env)\.(VELA_[A-Z0-9_]+)/g)) used.add(m[1]!);
    }
    const missing = [...used].filter((k) => !keys.has(k) && !(skip as readonly string[]).includes(k));
    assert.deepEqual(missing, [], `${pkg}: settings read from the environment but not accepted in its config file (add them to ${file})`);
  }
});
