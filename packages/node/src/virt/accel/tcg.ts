/**
 * TCG: QEMU's software emulator. Always available and always slow; the fallback when KVM cannot
 * run guests. Never used where KVM works unless asked for.
 */
import type { Accelerator } from "./index.js";

export const tcg: Accelerator = {
  name: "tcg",
  async probe() {
    return true;
  },
  argv() {
    return ["-accel", "tcg"];
  },
};
