/**
 * The `tiny` template of `vela up`: a VM that boots to a login shell in seconds under TCG, from a
 * disk image built by scripts/build-tiny-image.sh (a Debian kernel and busybox, SYSLINUX on the
 * disk, reading cloud-init NoCloud seeds). Registered through the public API only: a disk, filled
 * by `POST /disks/{id}/import` from VELA_HOME/images (a directory the nodes may import from), a
 * base VM with it, the template made from that VM, then the base VM removed. Idempotent: nothing
 * is done when a template named `tiny` exists.
 */
import { execFile } from "node:child_process";
import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TINY_SCRIPT } from "./paths.js";
import { step } from "./progress.js";
import { list, Rest } from "./rest.js";

const MiB = 1024 * 1024;
export const TINY = "tiny";

/** Builds (or takes from the cache) the tiny image and copies it into `imagesDir`; its path, or undefined on failure. */
export function buildTinyImage(imagesDir: string, logFile: string): Promise<string | undefined> {
  return new Promise((res) => {
    execFile(TINY_SCRIPT, [], { maxBuffer: 16 * MiB, timeout: 600_000 }, (err, stdout, stderr) => {
      void writeFile(logFile, stderr).catch(() => undefined);
      if (err) {
        step(`the tiny image could not be built (see ${logFile}); no tiny template`);
        return res(undefined);
      }
      const dest = join(imagesDir, "tiny.qcow2");
      copyFile(join(stdout.trim(), "tiny.qcow2"), dest).then(
        () => res(dest),
        () => res(undefined),
      );
    });
  });
}

interface Obj {
  id: string;
  name?: string;
  status?: string;
}

/** Registers `tiny` unless it exists; a failure is reported and leaves `vela up` running without it. */
export async function ensureTinyTemplate(rest: Rest, image: string | undefined): Promise<void> {
  if (!image) return;
  if (list<Obj>(await rest.get("/templates"), "template").some((t) => t.name === TINY)) return;
  step("registering the tiny template");
  try {
    await register(rest, image);
  } catch (err) {
    step(`the tiny template could not be registered: ${(err as Error).message}`);
  }
}

/**
 * A base VM left by an interrupted registration would clash by name: it is ours, remove it (with
 * its disks). Disks never clash (names need not be unique), so user disks are never touched.
 */
async function removeLeftovers(rest: Rest): Promise<void> {
  for (const vm of list<Obj>(await rest.get("/vms"), "vm").filter((v) => v.name === `${TINY}-base`)) {
    await rest.del(`/vms/${vm.id}`);
  }
}

async function register(rest: Rest, image: string): Promise<void> {
  await removeLeftovers(rest);
  const sd = list<Obj>(await rest.get("/storagedomains"), "storage_domain").find((s) => s.name === "local");
  const cluster = list<Obj>(await rest.get("/clusters"), "cluster").find((c) => c.name === "Default");
  if (!sd || !cluster) throw new Error("no local storage domain or Default cluster for the tiny template");
  const disk = await rest.post<Obj>("/disks", { name: `${TINY}-disk`, provisioned_size: 64 * MiB, format: "cow", storage_domains: { storage_domain: [{ id: sd.id }] } });
  const diskOk = async () => Rest.until("the tiny disk ok", async () => ((await rest.get<Obj>(`/disks/${disk.id}`)).status === "ok" ? true : undefined), 120_000);
  await diskOk();
  await rest.post(`/disks/${disk.id}/import`, { path: image, format: "qcow2", async: false });
  await diskOk();
  const vm = await rest.post<Obj>("/vms", { name: `${TINY}-base`, cluster: { id: cluster.id }, memory: 256 * MiB, os: { type: "other_linux" } });
  await rest.post(`/vms/${vm.id}/diskattachments`, { disk: { id: disk.id }, interface: "virtio", bootable: true, active: true });
  const t = await rest.post<Obj>("/templates", { name: TINY, description: "Debian kernel + busybox, boots from its disk, reads cloud-init (NoCloud)", vm: { id: vm.id } });
  await Rest.until("the tiny template ok", async () => ((await rest.get<Obj>(`/templates/${t.id}`)).status === "ok" ? true : undefined), 300_000);
  await rest.del(`/vms/${vm.id}`);
}
