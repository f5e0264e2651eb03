/**
 * How an LV becomes a block device this host's QEMU and qemu-img can open, behind one interface
 * with two implementations:
 * - device-mapper hosts (real hosts, VDSM's way): `lvchange -ay` activates, `lvchange --refresh`
 *   picks up an extend made by the SPM, `lvchange -an` deactivates; the device is /dev/VG/LV.
 * - hosts without device-mapper (this machine kind: loop and FUSE only): a loop device over the
 *   PV with `--offset/--sizelimit` on the LV's single segment (the block driver keeps every LV one
 *   segment by choosing its extents). An LV in more than one segment cannot be mapped. `refresh`
 *   grows a mapping in place, while it is open, with the LOOP_SET_STATUS64 ioctl (new
 *   `lo_sizelimit`); util-linux's losetup has no option for it and Node.js has no ioctl, so a
 *   few lines of python3 (already a Vela dependency) make the call.
 */
import { existsSync } from "node:fs";
import { type ErrorName, VdsmError } from "@vela/protocol";
import { run } from "../../exec.js";
import type { Logger } from "../../log.js";
import { type LoopRow, listLoops } from "./loops.js";
import type { Lvm } from "./lvm.js";

/** Where an LV's bytes are on its PV. */
export interface LvRange {
  pv: string;
  /** Byte offset of extent 0 on the PV (`pe_start`). */
  peStart: number;
  extentSize: number;
  first: number;
  count: number;
}

export function byteRange(r: LvRange): { offset: number; size: number } {
  return { offset: r.peStart + r.first * r.extentSize, size: r.count * r.extentSize };
}

export interface DataPath {
  readonly kind: "device-mapper" | "loop";
  /** The device for the LV (created if needed). */
  activate(vg: string, lv: string, r: LvRange): Promise<string>;
  /** Makes an active LV's device show its new size after an extend. */
  refresh(vg: string, lv: string, r: LvRange): Promise<void>;
  deactivate(vg: string, lv: string, r: LvRange): Promise<void>;
  /** The device path while active, else undefined. */
  activePath(vg: string, lv: string, r: LvRange): Promise<string | undefined>;
}

/** Real hosts: device-mapper through lvm, as VDSM does. */
export class DmDataPath implements DataPath {
  readonly kind = "device-mapper" as const;
  constructor(private readonly lvm: Lvm) {}

  /** The lvm argv each operation runs (before `--config`), for docs and tests. */
  static argv(op: "activate" | "refresh" | "deactivate", vg: string, lv: string): string[] {
    const flag = { activate: ["--activate", "y"], refresh: ["--refresh"], deactivate: ["--activate", "n"] }[op];
    return ["lvchange", ...flag, `${vg}/${lv}`];
  }

  async activate(vg: string, lv: string): Promise<string> {
    await this.lvm.cmd(DmDataPath.argv("activate", vg, lv), "CannotActivateLogicalVolume");
    return `/dev/${vg}/${lv}`;
  }
  async refresh(vg: string, lv: string): Promise<void> {
    await this.lvm.cmd(DmDataPath.argv("refresh", vg, lv), "LogicalVolumeRefreshError");
  }
  async deactivate(vg: string, lv: string): Promise<void> {
    await this.lvm.cmd(DmDataPath.argv("deactivate", vg, lv), "CannotDeactivateLogicalVolume");
  }
  async activePath(vg: string, lv: string): Promise<string | undefined> {
    const { access } = await import("node:fs/promises");
    const p = `/dev/${vg}/${lv}`;
    return access(p).then(
      () => p,
      () => undefined,
    );
  }
}

/**
 * LOOP_GET_STATUS64 (0x4C05), a new lo_sizelimit (bytes 32–39 of the 232-byte loop_info64),
 * LOOP_SET_STATUS64 (0x4C04); the kernel answers EAGAIN while it drops the device's page cache,
 * so the call is retried briefly. argv: device, new size limit in bytes.
 */
const SET_SIZELIMIT = [
  "import fcntl, os, struct, sys, time",
  "fd = os.open(sys.argv[1], os.O_RDWR)",
  "info = bytearray(232)",
  "fcntl.ioctl(fd, 0x4C05, info, True)",
  "struct.pack_into('=Q', info, 32, int(sys.argv[2]))",
  "for i in range(50):",
  "    try:",
  "        fcntl.ioctl(fd, 0x4C04, bytes(info)); break",
  "    except BlockingIOError:",
  "        time.sleep(0.02)",
  "else:",
  "    sys.exit('LOOP_SET_STATUS64 kept answering EAGAIN')",
].join("\n");

/**
 * The system's python3 (Debian's, in DEB_NEEDS), started without site packages (`-I -S`): an
 * extension waits for it. A `python3` found on the PATH may be a version manager's shim (pyenv's
 * took 4 s per start on a loaded box, and 20–60 s per extension in all), not the interpreter.
 */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** This machine kind: a loop device over the LV's byte range of the PV. */
export class LoopDataPath implements DataPath {
  readonly kind = "loop" as const;
  constructor(private readonly log: Logger) {}

  /** Loop devices mapping this LV's first byte (whatever their size). */
  private async mapping(r: LvRange): Promise<LoopRow[]> {
    const { offset } = byteRange(r);
    return (await listLoops()).filter((l) => l.backFile === r.pv && l.offset === offset);
  }

  async activePath(_vg: string, _lv: string, r: LvRange): Promise<string | undefined> {
    const { size } = byteRange(r);
    return (await this.mapping(r)).find((l) => l.sizelimit === size)?.name;
  }

  async activate(vg: string, lv: string, r: LvRange): Promise<string> {
    const have = await this.activePath(vg, lv, r);
    if (have) return have;
    const { offset, size } = byteRange(r);
    try {
      // Direct I/O: the LV's writes go straight through to the LUN, never into a page cache of
      // the device below. Buffered, every flush (a mailbox write is O_DSYNC, so is each guest
      // fsync) made the kernel write back all the dirty data of the whole LUN first: tens of
      // seconds per mailbox message while a guest wrote, measured here.
      const out = await run(["losetup", "--find", "--show", "--direct-io=on", "--offset", String(offset), "--sizelimit", String(size), r.pv], { log: this.log, timeoutMs: 30_000 });
      return out.stdout.trim();
    } catch (err) {
      throw new VdsmError("CannotActivateLogicalVolume", `${vg}/${lv}: ${(err as Error).message}`);
    }
  }

  async refresh(vg: string, lv: string, r: LvRange): Promise<void> {
    const { size } = byteRange(r);
    for (const l of await this.mapping(r)) {
      // Grow only: a refresh for an older, smaller grant must never cut a live mapping short.
      if (l.sizelimit >= size) continue;
      if (!/^\/dev\/loop\d+$/.test(l.name)) throw new VdsmError("LogicalVolumeRefreshError", `${vg}/${lv}: unexpected device ${l.name}`);
      try {
        await run([PYTHON, "-I", "-S", "-c", SET_SIZELIMIT, l.name, String(size)], { log: this.log, timeoutMs: 30_000 });
      } catch (err) {
        throw new VdsmError("LogicalVolumeRefreshError", `${vg}/${lv} (${l.name}): ${(err as Error).message}`);
      }
    }
  }

  async deactivate(vg: string, lv: string, r: LvRange): Promise<void> {
    for (const l of await this.mapping(r)) await this.detach(l.name, `${vg}/${lv}`, "CannotDeactivateLogicalVolume");
  }

  private async detach(dev: string, what: string, errName: ErrorName): Promise<void> {
    try {
      await run(["losetup", "--detach", dev], { log: this.log, timeoutMs: 30_000 });
    } catch (err) {
      throw new VdsmError(errName, `${what} (${dev}): ${(err as Error).message}`);
    }
  }
}
