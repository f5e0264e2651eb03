/**
 * KVM. /dev/kvm existing is not enough: on some hosts (nested, PVM-based) it opens fine and then
 * hangs guests or rejects `-cpu host`. The probe therefore boots QEMU's own firmware with the
 * exact arguments VMs would get and waits for SeaBIOS to run to its end on the serial line
 * ("No bootable device"). It must stay fast: it gives up after a few seconds, and answers at once
 * when there is no usable /dev/kvm. It never touches a VM.
 */
import { spawn } from "node:child_process";
import { constants, accessSync } from "node:fs";
import type { Logger } from "../../log.js";
import type { Accelerator } from "./index.js";

const PROBE_TIMEOUT_MS = 4000;
const DONE_MARKER = "No bootable device";

function kvmDeviceUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the firmware under KVM. Uses spawn directly rather than exec.run because success is a line
 * of serial output while QEMU keeps running, and the probe must kill QEMU itself.
 */
function firmwareBoots(log: Logger): Promise<boolean> {
  const argv = ["-nodefaults", "-no-user-config", "-display", "none", "-m", "32", ...kvm.argv(), "-serial", "stdio", "-nic", "none"];
  return new Promise((resolve) => {
    const child = spawn("qemu-system-x86_64", argv, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      if (!ok) log.info({ output: out.slice(-500) }, "kvm probe: firmware did not finish");
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), PROBE_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      out += d.toString("latin1");
      if (out.includes(DONE_MARKER)) finish(true);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", () => finish(false));
    child.on("exit", () => finish(out.includes(DONE_MARKER)));
  });
}

export const kvm: Accelerator = {
  name: "kvm",
  async probe(log) {
    if (!kvmDeviceUsable()) return false;
    return firmwareBoots(log);
  },
  argv() {
    return ["-accel", "kvm", "-cpu", "host"];
  },
};
