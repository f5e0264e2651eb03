/** Where things are: the repository root (from this file's location) and VELA_HOME. */
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** packages/cli/dist/src → repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
/** The engine as tsc built it, one file per module (tests start it). */
export const ENGINE_MAIN = join(ROOT, "packages/engine/dist/src/main.js");
/** The engine as it runs for users — `vela up`, the Debian package, the start benchmark: its esbuild bundle (packages/engine/build.mjs). */
export const ENGINE_BUNDLE = join(ROOT, "packages/engine/dist/bundle/main.js");
/** The engine's one-time join token command (acts on the engine's database). */
export const ENGINE_JOIN_TOKEN = join(ROOT, "packages/engine/dist/src/tools/jointoken.js");
/** The engine's user and group command (acts on the engine's database). */
export const ENGINE_USERS = join(ROOT, "packages/engine/dist/src/users/cli.js");
export const ENGINE_BACKUP = join(ROOT, "packages/engine/dist/src/tools/backup.js");
export const NODE_MAIN = join(ROOT, "packages/node/dist/src/main.js");
export const GUEST_SCRIPT = join(ROOT, "scripts/build-test-guest.sh");
export const TINY_SCRIPT = join(ROOT, "scripts/build-tiny-image.sh");

export function velaHome(): string {
  if (process.env.VELA_HOME) return resolve(process.env.VELA_HOME);
  return process.getuid?.() === 0 ? "/var/lib/vela" : join(homedir(), ".local/share/vela");
}
