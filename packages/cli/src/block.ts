/**
 * `vela up --block`: the data center on a block storage domain, made as an administrator would.
 * A sparse LUN file under VELA_HOME/storage/block is attached as a loop device (this machine
 * kind's stand-in for a shared FC/iSCSI LUN), the node agents are told that directory holds their
 * LUNs, and the domain is created and attached through the REST API (GET /hosts/{id}/storage,
 * POST /storagedomains with `storage: {type: fcp, volume_group: {logical_units: [{id}]}}`). On
 * stop the loop devices over the LUN (the LUN itself and the node's LV mappings) are detached;
 * the file keeps the domain for the next `vela up --block`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { step } from "./progress.js";
import { list, Rest } from "./rest.js";

/** Room for VDSM's special LVs (4.5 GiB) and thin disks of a few GiB; sparse, so free until written. */
const LUN_BYTES = 40 * 2 ** 30;

interface LoopRow {
  name: string;
  "back-file"?: string | null;
}

function loops(): LoopRow[] {
  const out = execFileSync("losetup", ["--list", "--json", "--output", "NAME,BACK-FILE"], { encoding: "utf8" });
  return out.trim() ? (JSON.parse(out) as { loopdevices: LoopRow[] }).loopdevices : [];
}

export function lunDir(home: string): string {
  return join(home, "storage", "block");
}

/** The LUN file attached as a loop device (again, after a restart); answers the device. */
export function attachLun(home: string): string {
  const dir = lunDir(home);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "lun0");
  if (!existsSync(file)) execFileSync("truncate", ["-s", String(LUN_BYTES), file]);
  const real = realpathSync(file);
  const have = loops().find((l) => l["back-file"] === real);
  if (have) return have.name;
  // Direct I/O, as a real LUN: a flush (every mailbox message is O_DSYNC) then never waits for
  // the kernel to write back every guest's dirty data in the file.
  return execFileSync("losetup", ["--find", "--show", "--direct-io=on", file], { encoding: "utf8" }).trim();
}

/** Detaches the node's LV mappings over the LUN, then the LUN itself (best effort: stop must finish). */
export function detachLun(home: string): void {
  let real: string;
  try {
    real = realpathSync(join(lunDir(home), "lun0"));
  } catch {
    return;
  }
  const all = loops();
  const luns = all.filter((l) => l["back-file"] === real).map((l) => l.name);
  const ranges = all.filter((x) => luns.includes(x["back-file"] ?? "")).map((x) => x.name);
  // The SPM's master file system (on a range of the LUN) may still be mounted after its agent
  // stopped: unmount it under VELA_HOME, or its loop device (and the LUN's) would stay busy.
  for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
    const [dev, dir] = line.split(" ");
    if (dev && dir && ranges.includes(dev) && dir.startsWith(`${home}/`)) {
      try {
        execFileSync("umount", [dir], { stdio: "ignore" });
      } catch {
        // busy: the kernel keeps it until released
      }
    }
  }
  for (const l of [...ranges, ...luns]) {
    try {
      execFileSync("losetup", ["--detach", l], { stdio: "ignore" });
    } catch {
      // still in use (a mounted master): the kernel frees it once released
    }
  }
}

interface Sd {
  id: string;
  name: string;
}

/** The block data domain: created on the host's free LUN unless it exists already. */
export async function ensureBlockDomain(rest: Rest, host: { id: string; name: string }): Promise<Sd> {
  const have = list<Sd & { storage?: { type?: string } }>(await rest.get("/storagedomains"), "storage_domain").find((s) => s.name === "block");
  if (have) return have;
  const storage = list<{ logical_units: { logical_unit: { id: string; status: string }[] } }>(await rest.get(`/hosts/${host.id}/storage`), "host_storage");
  const lun = storage.flatMap((s) => s.logical_units.logical_unit).find((l) => l.status === "free");
  if (!lun) throw new Error(`host ${host.name} lists no free LUN for the block domain`);
  step(`creating the block storage domain on LUN ${lun.id}`);
  return rest.post<Sd>("/storagedomains", {
    name: "block",
    type: "data",
    host: { name: host.name },
    storage: { type: "fcp", volume_group: { logical_units: [{ id: lun.id }] } },
  });
}

export { Rest };
