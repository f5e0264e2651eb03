/** Locates (building on first use) the tiny test guest: kernel + busybox initramfs. */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { GUEST_SCRIPT } from "@vela/cli/paths";

export interface Guest {
  dir: string;
  kernel: string;
  initrd: string;
}

export function testGuest(): Guest {
  let dir = process.env.VELA_GUEST_DIR;
  if (!dir || !existsSync(join(dir, "vmlinuz"))) {
    dir = execFileSync("bash", [GUEST_SCRIPT], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
  }
  return { dir, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img") };
}
