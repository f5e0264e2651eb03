/**
 * Helpers for the virt tests: the test guest (built by scripts/build-test-guest.sh), a node with
 * that guest's directory allowed for direct kernel boot, a qcow2 volume made through the storage
 * verbs, and waits on VM status and console markers. Everything real: QEMU under TCG, qemu-img,
 * the node as a process.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type LocalPool, type NodeProc, RpcError, startNode, waitTaskXml } from "./harness.js";
import { BLANK_UUID } from "@vela/protocol";
import { until } from "@vela/testkit";

const here = dirname(fileURLToPath(import.meta.url));
/** scripts/build-test-guest.sh, from packages/node/dist/test/. */
export const GUEST_SCRIPT = resolve(here, "../../../../scripts/build-test-guest.sh");

export interface Guest {
  dir: string;
  kernel: string;
  initrd: string;
}

let guest: Guest | undefined;
export function testGuest(): Guest {
  if (!guest) {
    const dir = execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
    guest = { dir, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img") };
  }
  return guest;
}

/** A node whose boot directory allow-list is the guest's cache directory; TCG forced (no KVM here). */
export function startVirtNode(opts: { runDir?: string; port?: number; env?: Record<string, string>; netns?: string; host?: string } = {}): Promise<NodeProc> {
  return startNode({
    runDir: opts.runDir,
    port: opts.port,
    netns: opts.netns,
    host: opts.host,
    env: { VELA_NODE_BOOT_DIRS: testGuest().dir, VELA_NODE_ACCEL: "tcg", ...opts.env },
  });
}

/** Destroys every VM the node knows (so a failed test leaves no QEMU behind), then stops it. */
export async function stopWithVms(node: NodeProc | undefined): Promise<void> {
  if (!node) return;
  try {
    const vms = (await node.json("Host.getVMList", {})) as { vmId: string }[];
    for (const vm of vms) await node.json("VM.destroy", { vmID: vm.vmId }).catch(() => {});
  } finally {
    await node.stop();
  }
}

export { sleep } from "@vela/testkit";

/** The kit's `until` with this suite's defaults; `false` also counts as "not yet" (file checks). */
export function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 100): Promise<Exclude<T, false>> {
  return until(what, async () => {
    const v = await fn();
    return v === false ? undefined : (v as Exclude<T, false> | undefined);
  }, timeoutMs, everyMs);
}

/** A VM definition booting the test guest with the given vela.* options. */
export function guestVm(vmId: string, opts: { args?: string; drives?: unknown[]; nics?: unknown[]; display?: "vnc" | "none"; memSize?: number } = {}) {
  const g = testGuest();
  return {
    vmId,
    vmName: `test-${vmId.slice(0, 8)}`,
    memSize: opts.memSize ?? 192,
    smp: 1,
    drives: opts.drives ?? [],
    nics: opts.nics ?? [],
    display: opts.display ?? "vnc",
    kernel: g.kernel,
    initrd: g.initrd,
    kernelArgs: `console=ttyS0 panic=-1 quiet ${opts.args ?? ""}`.trim(),
  };
}

export type Stats = Record<string, unknown> & { vmId: string; status: string; pid: string; displayPort: string; qemuStatus?: string };

export async function vmStats(node: NodeProc, vmId: string): Promise<Stats> {
  const list = (await node.json("VM.getStats", { vmID: vmId })) as Stats[];
  return list[0];
}

export function waitStatus(node: NodeProc, vmId: string, status: string, timeoutMs = 60_000): Promise<Stats> {
  return waitFor(`VM ${vmId} ${status}`, async () => {
    const s = await vmStats(node, vmId);
    return s.status === status ? s : undefined;
  }, timeoutMs);
}

export function consoleLog(runDir: string, vmId: string): string {
  const p = join(runDir, "vms", vmId, "console.log");
  return existsSync(p) ? readFileSync(p, "latin1") : "";
}

export function waitConsole(runDir: string, vmId: string, marker: string, timeoutMs = 60_000): Promise<string> {
  return waitFor(`console marker ${marker}`, () => {
    const log = consoleLog(runDir, vmId);
    return log.includes(marker) ? log : undefined;
  }, timeoutMs, 100);
}

export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Pids of QEMU processes whose command line carries this VM id (-uuid). */
export function qemuPidsFor(vmId: string): number[] {
  const out: number[] = [];
  for (const line of execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).split("\n")) {
    if (line.includes("qemu-system") && line.includes(vmId)) out.push(Number(line.trim().split(/\s+/)[0]));
  }
  return out;
}

/** Reads the first 12 bytes a VNC server sends: the RFB version banner. */
export function rfbBanner(port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((res, rej) => {
    const s = connect({ host: "127.0.0.1", port });
    let buf = "";
    const timer = setTimeout(() => {
      s.destroy();
      rej(new Error(`no RFB banner on port ${port}`));
    }, timeoutMs);
    s.setEncoding("latin1");
    s.on("data", (d: string) => {
      buf += d;
      if (buf.length >= 12) {
        clearTimeout(timer);
        s.destroy();
        res(buf.slice(0, 12));
      }
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      rej(e);
    });
  });
}

/** Creates a sparse qcow2 volume through the storage verbs; returns the drive spec and its path. */
export async function createQcow2(node: NodeProc, pool: LocalPool, sizeMiB: number) {
  const imageID = randomUUID();
  const volumeID = randomUUID();
  const r = await node.xml("createVolume", pool.sdUUID, pool.spUUID, imageID, String(sizeMiB * 2 ** 20), 4, 2, "DATA", volumeID, "virt test", BLANK_UUID, BLANK_UUID);
  if (r.status.code !== 0) throw new Error(`createVolume: ${r.status.message}`);
  await waitTaskXml(node, r.uuid as string);
  return {
    drive: { poolID: pool.spUUID, domainID: pool.sdUUID, imageID, volumeID, iface: "virtio" },
    path: join(pool.domainDir, "images", imageID, volumeID),
  };
}

export function qemuImgActualSize(path: string): number {
  const info = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path], { encoding: "utf8" })) as { "actual-size": number; format: string };
  return info["actual-size"];
}

/** The VDSM error code of a JSON-RPC failure (or undefined on success). */
export async function errorCode(p: Promise<unknown>): Promise<{ code: number; message: string } | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (e instanceof RpcError) return { code: e.code, message: e.message };
    throw e;
  }
}

export { RpcError };
