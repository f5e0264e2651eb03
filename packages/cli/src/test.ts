/**
 * `vela test`: builds the test guest (cached outside the repo), then runs every compiled test
 * file with node's own test runner, whose summary lines CI reads. The run gets a private TMPDIR,
 * removed at its end: tests make storage domains and volumes of gigabytes there, and a run that
 * leaves them behind fills the disk for the next one (seen: guests paused on a full disk).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { makeTestPki } from "./testpki.js";
import { join } from "node:path";
import { GUEST_SCRIPT, ROOT, TINY_SCRIPT } from "./paths.js";
import { step } from "./progress.js";

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".test.js"))
    .map((e) => join((e as { parentPath?: string; path?: string }).parentPath ?? (e as { path?: string }).path ?? dir, e.name))
    .sort();
}

export function allTestFiles(): string[] {
  return [
    ...["protocol", "node", "engine", "cli"].flatMap((p) => testFiles(join(ROOT, "packages", p, "dist/test"))),
    ...testFiles(join(ROOT, "test/dist/src")),
  ];
}

export function testCommand(args: string[]): number {
  if (existsSync(GUEST_SCRIPT)) {
    step("preparing the test guest (cached after the first run)");
    const r = spawnSync("bash", [GUEST_SCRIPT], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.status !== 0) {
      step("could not build the test guest");
      return 1;
    }
    process.env.VELA_GUEST_DIR = r.stdout.trim().split("\n").pop();
  }
  // The tiny image too (the tiny tests and `vela up` in tests use it): built once, outside the tests' clocks.
  if (existsSync(TINY_SCRIPT)) {
    step("preparing the tiny image (cached after the first run)");
    const r = spawnSync("bash", [TINY_SCRIPT], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.status !== 0) {
      step("could not build the tiny image");
      return 1;
    }
  }
  const files = args.length ? args : allTestFiles();
  if (files.length === 0) {
    step("no test files found (did the build run?)");
    return 1;
  }
  const concurrency = process.env.VELA_TEST_CONCURRENCY ?? "2";
  // Short name: QMP and mailbox socket paths under it must fit in sun_path (108 bytes).
  const tmp = mkdtempSync(join(tmpdir(), "vt-"));
  reportFreeSpace(tmp, "before");
  try {
    // No config file of an installed vela-engine/vela-node package (/etc/vela) reaches the engines
    // and agents the tests start: they are configured by their environment only.
    const pki = join(tmp, "test-pki");
    makeTestPki(pki);
    const env = { VELA_ENGINE_CONF: "", VELA_NODE_CONF: "", ...process.env, TMPDIR: tmp, VELA_TEST_PKI: pki, NODE_EXTRA_CA_CERTS: join(pki, "ca.pem") };
    // --test-force-exit: a file whose tests ended is done even if a child it started lives on
    // (seen: agents that were not ready in time kept a file, and so the whole CI run, hanging).
    const r = spawnSync(process.execPath, ["--test", "--test-force-exit", `--test-concurrency=${concurrency}`, ...files], { stdio: "inherit", cwd: ROOT, env });
    return r.status ?? 1;
  } finally {
    reportFreeSpace(tmp, "after");
    killLeftovers(tmp);
    removeTree(tmp);
  }
}

/** The suite needs a few GiB at its peak; say so up front rather than fail obscurely later. */
const NEEDED_BYTES = 4 * 2 ** 30;

function reportFreeSpace(dir: string, when: string): void {
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  const gib = (free / 2 ** 30).toFixed(1);
  step(`${gib} GiB free for ${dir} ${when} the tests${when === "before" && free < NEEDED_BYTES ? " (less than the 4 GiB the suite may need)" : ""}`);
}

/**
 * Kills what the run left running: every process the tests started inherits the run's TMPDIR,
 * so an agent, engine or QEMU still alive with it in its environment is a leftover. Left alone,
 * it would hold ports and files into the next run.
 */
export function killLeftovers(tmp: string): number {
  const mark = `TMPDIR=${tmp}`;
  let killed = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    let env: string[];
    try {
      env = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
    } catch {
      continue; // gone, or not ours to read
    }
    if (!env.includes(mark)) continue;
    try {
      process.kill(Number(pid), "SIGKILL");
      killed++;
    } catch {
      /* already gone */
    }
  }
  if (killed) step(`killed ${killed} process(es) the tests left running`);
  return killed;
}

/** Removes the run's TMPDIR, first unmounting anything a failed test left mounted inside it. */
function removeTree(dir: string): void {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => m !== undefined && m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync("umount", ["-l", m], { stdio: "ignore" });
  rmSync(dir, { recursive: true, force: true });
}
