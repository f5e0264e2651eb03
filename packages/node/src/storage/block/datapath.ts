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
 *   resident python3 helper makes the loop ioctls (attach, grow, detach) for the agent.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { type ErrorName, VdsmError } from "@vela/protocol";
import { run, setNice, URGENT_NICE } from "../../exec.js";
import type { Logger } from "../../log.js";
import { type LoopRow, listLoops, readLoopDevice } from "./loops.js";
import type { Lvm } from "./lvm.js";
import { Mutex } from "../sync.js";

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
 * A resident helper doing the loop ioctls a thin extension or a volume operation waits on, one
 * stdin line each, answering `ok [<result>]` or `err <why>`:
 * - `grow <device> <size>`: LOOP_GET_STATUS64 (0x4C05), lo_sizelimit (bytes 32–39 of the 232-byte
 *   loop_info64) set, LOOP_SET_STATUS64 (0x4C04) — the kernel answers EAGAIN while it drops the
 *   device's page cache, so that is retried briefly;
 * - `attach <file> <offset> <size>`: a free device from /dev/loop-control (LOOP_CTL_GET_FREE,
 *   0x4C82) configured in one LOOP_CONFIGURE (0x4C0A: struct loop_config = backing fd, block
 *   size, loop_info64 with offset, size limit and LO_FLAGS_DIRECT_IO, 304 bytes) over the file
 *   opened with O_DIRECT, as `losetup --find --show --direct-io=on --offset --sizelimit` does;
 *   a device another process took first (EBUSY) makes it ask for the next free one. Answers the
 *   device;
 * - `detach <device>`: LOOP_CLR_FD (0x4C01), as `losetup --detach`.
 * It ends at EOF on stdin (its agent gone). Resident because a guest or a task waits for it: a
 * python3 or losetup start per call cost 20–40 ms idle, more under load.
 */
const LOOP_HELPER = [
  "import errno, fcntl, os, struct, sys, time",
  "def grow(dev, size):",
  "    fd = os.open(dev, os.O_RDWR)",
  "    try:",
  "        info = bytearray(232)",
  "        fcntl.ioctl(fd, 0x4C05, info, True)",
  "        struct.pack_into('=Q', info, 32, size)",
  "        for i in range(50):",
  "            try:",
  "                fcntl.ioctl(fd, 0x4C04, bytes(info)); return ''",
  "            except BlockingIOError:",
  "                time.sleep(0.02)",
  "        raise OSError('LOOP_SET_STATUS64 kept answering EAGAIN')",
  "    finally:",
  "        os.close(fd)",
  "def attach(path, offset, size):",
  "    back = os.open(path, os.O_RDWR | os.O_DIRECT)",
  "    try:",
  "        ctl = os.open('/dev/loop-control', os.O_RDWR)",
  "        try:",
  "            for i in range(20):",
  "                n = fcntl.ioctl(ctl, 0x4C82)",
  "                dev = '/dev/loop%d' % n",
  "                fd = os.open(dev, os.O_RDWR)",
  "                try:",
  "                    cfg = bytearray(304)",
  "                    struct.pack_into('=II', cfg, 0, back, 0)",
  "                    struct.pack_into('=QQ', cfg, 8 + 24, offset, size)",
  "                    struct.pack_into('=I', cfg, 8 + 52, 16)",
  "                    name = path.encode()[:63]",
  "                    cfg[8 + 56:8 + 56 + len(name)] = name",
  "                    fcntl.ioctl(fd, 0x4C0A, bytes(cfg)); return dev",
  "                except OSError as e:",
  "                    if e.errno != errno.EBUSY: raise",
  "                finally:",
  "                    os.close(fd)",
  "            raise OSError('no free loop device after 20 tries')",
  "        finally:",
  "            os.close(ctl)",
  "    finally:",
  "        os.close(back)",
  "def detach(dev):",
  "    fd = os.open(dev, os.O_RDWR)",
  "    try:",
  "        fcntl.ioctl(fd, 0x4C01, 0); return ''",
  "    finally:",
  "        os.close(fd)",
  "for line in sys.stdin:",
  "    try:",
  "        w = line.split()",
  "        if w[0] == 'grow': r = grow(w[1], int(w[2]))",
  "        elif w[0] == 'attach': r = attach(w[1], int(w[2]), int(w[3]))",
  "        elif w[0] == 'detach': r = detach(w[1])",
  "        else: raise ValueError('unknown request ' + w[0])",
  "        print(('ok ' + r).rstrip(), flush=True)",
  "    except Exception as e:",
  "        print('err', str(e).replace('\\n', ' '), flush=True)",
].join("\n");

/** The resident loop helper: one request at a time, started again if it died. */
class LoopHelper {
  private child?: ChildProcessWithoutNullStreams;
  private buf = "";
  private waiter?: (line: string) => void;
  private readonly lock = new Mutex();

  constructor(private readonly log: Logger) {}

  /** Starts the helper ahead of the first resize (its python3 start cost ~1 s of the first extension at load 18). */
  warm(): void {
    if (!this.child) this.start();
  }

  private start(): ChildProcessWithoutNullStreams {
    const c = spawn(PYTHON, ["-I", "-S", "-u", "-c", LOOP_HELPER], { stdio: ["pipe", "pipe", "pipe"] });
    // A guest waits on each of its answers (a thin extension): VDSM's priority, as the lvextend.
    if (c.pid !== undefined) setNice(c.pid, URGENT_NICE);
    c.stdout.setEncoding("utf8").on("data", (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf("\n"); i >= 0; i = this.buf.indexOf("\n")) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiter;
        this.waiter = undefined;
        w?.(line);
      }
    });
    c.stderr.setEncoding("utf8").on("data", (d: string) => this.log.warn({ stderr: d.slice(0, 500) }, "loop resize helper"));
    c.on("exit", () => {
      if (this.child === c) this.child = undefined;
      const w = this.waiter;
      this.waiter = undefined;
      w?.("err the helper exited");
    });
    c.on("error", () => undefined);
    // Never keeps the agent alive; it ends by itself when the agent's end of stdin closes.
    c.unref();
    (c.stdin as unknown as { unref?: () => void }).unref?.();
    (c.stdout as unknown as { unref?: () => void }).unref?.();
    (c.stderr as unknown as { unref?: () => void }).unref?.();
    this.buf = "";
    this.child = c;
    return c;
  }

  /** Sets `dev`'s size limit to `size` bytes. */
  async grow(dev: string, size: number): Promise<void> {
    await this.ask(`grow ${dev} ${size}`);
  }

  /** A new direct-I/O loop device over `file`'s byte range; answers its path. */
  async attach(file: string, offset: number, size: number): Promise<string> {
    const dev = await this.ask(`attach ${file} ${offset} ${size}`);
    if (!/^\/dev\/loop\d+$/.test(dev)) throw new Error(`unexpected answer ${JSON.stringify(dev)}`);
    return dev;
  }

  async detach(dev: string): Promise<void> {
    await this.ask(`detach ${dev}`);
  }

  /** One request line (its words validated by the callers: device paths and numbers); answers what follows `ok`. */
  private ask(request: string): Promise<string> {
    return this.lock.run(async () => {
      const c = this.child ?? this.start();
      const line = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          c.kill("SIGKILL");
          resolve("err no answer in 30 s");
        }, 30_000);
        this.waiter = (l) => {
          clearTimeout(timer);
          resolve(l);
        };
        c.stdin.write(`${request}\n`);
      });
      if (line !== "ok" && !line.startsWith("ok ")) throw new Error(line.replace(/^err /, ""));
      return line.slice(3);
    });
  }
}

/**
 * The system's python3 (Debian's, in DEB_NEEDS), started without site packages (`-I -S`): an
 * extension waits for it. A `python3` found on the PATH may be a version manager's shim (pyenv's
 * took 4 s per start on a loaded box, and 20–60 s per extension in all), not the interpreter.
 */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** This machine kind: a loop device over the LV's byte range of the PV. */
export class LoopDataPath implements DataPath {
  readonly kind = "loop" as const;
  private readonly helper: LoopHelper;
  /** `pv@offset` → the loop devices last seen mapping that LV (refreshes look at these first). */
  private readonly known = new Map<string, string[]>();
  constructor(log: Logger) {
    this.helper = new LoopHelper(log);
    this.helper.warm();
  }

  /** Loop devices mapping this LV's first byte (whatever their size). */
  private async mapping(r: LvRange): Promise<LoopRow[]> {
    const { offset } = byteRange(r);
    const rows = (await listLoops()).filter((l) => l.backFile === r.pv && l.offset === offset);
    this.known.set(`${r.pv}@${offset}`, rows.map((l) => l.name));
    return rows;
  }

  /**
   * The same, for a refresh a guest waits on: the devices last seen mapping the LV, each checked
   * in sysfs (three small reads), instead of reading every loop device of the host (dozens on a
   * busy host: seconds under load, measured); a full look when one of them changed.
   */
  private async knownMapping(r: LvRange): Promise<LoopRow[]> {
    const { offset } = byteRange(r);
    const names = this.known.get(`${r.pv}@${offset}`);
    if (names?.length) {
      const rows = (await Promise.all(names.map(readLoopDevice))).filter((l): l is LoopRow => l?.backFile === r.pv && l.offset === offset);
      if (rows.length === names.length) return rows;
    }
    return this.mapping(r);
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
      if (!/^\/dev\/[A-Za-z0-9/_.-]+$/.test(r.pv)) throw new Error(`unexpected PV ${r.pv}`);
      // LOOP_CONFIGURE needs Linux 5.8: an older kernel gets losetup's way.
      const dev = await this.helper.attach(r.pv, offset, size).catch(async (err: unknown) => {
        if (!/Inappropriate ioctl|Invalid argument/.test(String(err))) throw err;
        return (await run(["losetup", "--find", "--show", "--direct-io=on", "--offset", String(offset), "--sizelimit", String(size), r.pv], { timeoutMs: 30_000 })).stdout.trim();
      });
      const key = `${r.pv}@${offset}`;
      this.known.set(key, [...(this.known.get(key) ?? []).filter((n) => n !== dev), dev]);
      return dev;
    } catch (err) {
      throw new VdsmError("CannotActivateLogicalVolume", `${vg}/${lv}: ${(err as Error).message}`);
    }
  }

  async refresh(vg: string, lv: string, r: LvRange): Promise<void> {
    const { size } = byteRange(r);
    for (const l of await this.knownMapping(r)) {
      // Grow only: a refresh for an older, smaller grant must never cut a live mapping short.
      if (l.sizelimit >= size) continue;
      if (!/^\/dev\/loop\d+$/.test(l.name)) throw new VdsmError("LogicalVolumeRefreshError", `${vg}/${lv}: unexpected device ${l.name}`);
      try {
        await this.helper.grow(l.name, size);
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
      if (!/^\/dev\/loop\d+$/.test(dev)) throw new Error(`unexpected device ${dev}`);
      await this.helper.detach(dev);
    } catch (err) {
      throw new VdsmError(errName, `${what} (${dev}): ${(err as Error).message}`);
    }
  }
}
