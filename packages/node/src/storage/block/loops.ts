/**
 * The loop devices of this host as the kernel shows them in sysfs (`/sys/block/loopN/loop/`:
 * backing_file, offset, sizelimit), the same facts `losetup --list` prints, without starting a
 * process: LUN discovery and the loop data path look them up on every lvm command and every
 * activation, where a `losetup` process each time cost 30 ms idle and up to 0.4 s under load.
 */
import { readdir, readFile } from "node:fs/promises";

export interface LoopRow {
  /** `/dev/loopN` */
  name: string;
  /** The backing file or device (with " (deleted)" when the file was unlinked), as losetup shows it. */
  backFile: string;
  offset: number;
  sizelimit: number;
}

const SYS = "/sys/block";

/** One loop device by name (`loopN` or `/dev/loopN`); undefined when it is not attached. */
export function readLoopDevice(name: string): Promise<LoopRow | undefined> {
  const m = /^(?:\/dev\/)?(loop\d+)$/.exec(name);
  return m ? readLoop(m[1]!) : Promise.resolve(undefined);
}

async function readLoop(dev: string): Promise<LoopRow | undefined> {
  const dir = `${SYS}/${dev}/loop`;
  try {
    const [back, offset, sizelimit] = await Promise.all(["backing_file", "offset", "sizelimit"].map((f) => readFile(`${dir}/${f}`, "utf8")));
    return { name: `/dev/${dev}`, backFile: back!.replace(/\n$/, ""), offset: Number(offset), sizelimit: Number(sizelimit) };
  } catch {
    return undefined; // not attached (no loop/ directory), or detached while we looked
  }
}

/**
 * Names of the attached loop devices: /proc/partitions lists a loop device only while it is
 * attached (one read, where /sys/block holds every loop node the host ever made, ~120 here).
 */
async function attached(): Promise<string[]> {
  try {
    return [...(await readFile("/proc/partitions", "utf8")).matchAll(/\s(loop\d+)$/gm)].map((m) => m[1]!);
  } catch {
    return (await readdir(SYS).catch(() => [] as string[])).filter((n) => /^loop\d+$/.test(n));
  }
}

/** Every attached loop device. */
export async function listLoops(): Promise<LoopRow[]> {
  const names = await attached();
  const rows = await Promise.all(names.map(readLoop));
  return rows.filter((r): r is LoopRow => r !== undefined);
}
