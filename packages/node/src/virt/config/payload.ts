/**
 * The payload seed disk (VDSM's vmPayload; for cloud-init a NoCloud `cidata` image): the files
 * the engine sent are written into the VM's run directory, packed into an ISO9660 image with
 * Rock Ridge and Joliet names by genisoimage, and attached read-only as a virtio disk. The loose
 * files are removed once packed; the image goes away with the run directory when the VM ends.
 * File names and the volume id were checked by the verb table (plain names, no paths); contents
 * are never logged (they may hold passwords).
 */
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { VdsmError, type VmPayload } from "@vela/protocol";
import { CommandError, run } from "../../exec.js";
import type { Logger } from "../../log.js";

export const PAYLOAD_ISO = "payload.iso";

/** Writes `<dir>/payload.iso`; returns its path. */
export async function writePayload(dir: string, payload: VmPayload, log: Logger): Promise<string> {
  const staging = join(dir, "payload.d");
  const iso = join(dir, PAYLOAD_ISO);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: 0o700 });
  try {
    const names = Object.keys(payload.files).sort();
    for (const name of names) await writeFile(join(staging, name), payload.files[name], { mode: 0o600, flag: "wx" });
    // -graft-points is not used: each argument is a plain file of the staging directory
    await run(["genisoimage", "-quiet", "-output", iso, "-volid", payload.volId, "-joliet", "-rock", ...names.map((n) => join(staging, n))], {
      log,
      timeoutMs: 30_000,
    });
    await chmod(iso, 0o600); // it may hold a password
  } catch (e) {
    const msg = e instanceof CommandError ? e.stderr.trim() : (e as Error).message;
    throw new VdsmError("createErr", `cannot write the payload image: ${msg.slice(0, 300)}`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  log.info({ volId: payload.volId, files: Object.keys(payload.files).sort() }, "payload image written");
  return iso;
}

/** QEMU arguments that attach the payload image read-only (a virtio disk, found by its label). */
export function payloadArgv(iso: string | undefined): string[] {
  if (!iso) return [];
  return [
    "-blockdev",
    JSON.stringify({ driver: "file", filename: iso, "node-name": "payload-file", "read-only": true }),
    "-blockdev",
    JSON.stringify({ driver: "raw", file: "payload-file", "node-name": "payload", "read-only": true }),
    "-device",
    JSON.stringify({ driver: "virtio-blk-pci", drive: "payload", id: "payload0" }),
  ];
}
