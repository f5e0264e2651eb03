/**
 * Direct kernel boot: the kernel and initrd a VM definition names must be regular files inside
 * one of the directories the operator allowed (VELA_NODE_BOOT_DIRS), after resolving symlinks,
 * so a request can never make QEMU read an arbitrary host file. Never opens the files.
 */
import { realpath, stat } from "node:fs/promises";
import { sep } from "node:path";
import { VdsmError, type VmParams } from "@vela/protocol";

export interface BootPlan {
  kernel?: string;
  initrd?: string;
  append?: string;
}

async function allowedFile(what: string, path: string, bootDirs: readonly string[]): Promise<string> {
  if (bootDirs.length === 0) throw new VdsmError("createErr", `${what} ${path}: no boot directories are allowed on this host (VELA_NODE_BOOT_DIRS)`);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw new VdsmError("createErr", `${what} ${path} does not exist`);
  }
  for (const dir of bootDirs) {
    let realDir: string;
    try {
      realDir = await realpath(dir);
    } catch {
      continue;
    }
    if (real.startsWith(realDir.endsWith(sep) ? realDir : realDir + sep)) {
      const st = await stat(real);
      if (!st.isFile()) throw new VdsmError("createErr", `${what} ${path} is not a regular file`);
      return real;
    }
  }
  throw new VdsmError("createErr", `${what} ${path} is not inside an allowed boot directory (${bootDirs.join(":")})`);
}

/** Checks the boot files of a definition; returns what QEMU gets. */
export async function planBoot(params: VmParams, bootDirs: readonly string[]): Promise<BootPlan> {
  if (!params.kernel) {
    if (params.initrd || params.kernelArgs) throw new VdsmError("createErr", "initrd and kernelArgs need a kernel");
    return {};
  }
  const kernel = await allowedFile("kernel", params.kernel, bootDirs);
  const initrd = params.initrd ? await allowedFile("initrd", params.initrd, bootDirs) : undefined;
  return { kernel, initrd, append: params.kernelArgs };
}

export function bootArgv(plan: BootPlan): string[] {
  const argv: string[] = [];
  if (plan.kernel) argv.push("-kernel", plan.kernel);
  if (plan.initrd) argv.push("-initrd", plan.initrd);
  if (plan.append !== undefined) argv.push("-append", plan.append);
  return argv;
}
