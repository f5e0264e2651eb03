/**
 * LUNs for block-storage tests: sparse files in a private directory attached as loop devices,
 * and a cleanup that removes whatever a test left on them (LV range loop devices, the VG, the PV
 * label, the LUN loop device itself) even after a failure. Every lvm command names only our own
 * devices in its filter, so other tests' VGs are never seen or touched.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestLun {
  file: string;
  device: string;
}

export class LunSet {
  readonly dir = mkdtempSync(join(tmpdir(), "vela-luns-"));
  readonly luns: TestLun[] = [];

  /** A sparse file of `bytes` attached as a loop device. */
  add(name: string, bytes: number): TestLun {
    const file = join(this.dir, name);
    execFileSync("truncate", ["-s", String(bytes), file]);
    // Direct I/O as a real LUN: no dirty page cache of the file to write back on every flush.
    const device = execFileSync("losetup", ["--find", "--show", "--direct-io=on", file], { encoding: "utf8" }).trim();
    const lun = { file, device };
    this.luns.push(lun);
    return lun;
  }

  /** lvm `--config` that sees only our LUNs, with activation off (no device-mapper here). */
  lvmConfig(): string {
    const accept = this.luns.map((l) => `"a|^${l.device}$|"`).join(",");
    return `global{activation=0} devices{filter=[${accept},"r|.*|"] global_filter=[${accept},"r|.*|"] use_devicesfile=0} backup{backup=0 archive=0}`;
  }

  lvm(cmd: string, ...args: string[]): string {
    // Reports take no LVM lock (as the agents' own): a test polling `lvs` must not starve the SPM's lvextend.
    const ro = ["lvs", "vgs", "pvs"].includes(cmd) ? ["--readonly"] : [];
    return execFileSync("lvm", [cmd, ...ro, "--config", this.lvmConfig(), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1" } });
  }

  /** Loop devices that map a range of one of our LUNs (an LV data path left active). */
  rangeLoops(): string[] {
    const out = JSON.parse(execFileSync("losetup", ["--list", "--json", "--output", "NAME,BACK-FILE"], { encoding: "utf8" }) || '{"loopdevices":[]}') as { loopdevices: { name: string; "back-file": string }[] };
    const devs = new Set(this.luns.map((l) => l.device));
    return out.loopdevices.filter((l) => devs.has(l["back-file"])).map((l) => l.name);
  }

  cleanup(): void {
    const quiet = (f: () => unknown) => {
      try {
        f();
      } catch {
        // best effort: the next step may still free the LUN
      }
    };
    for (const d of this.rangeLoops()) quiet(() => execFileSync("losetup", ["--detach", d]));
    if (this.luns.length) {
      quiet(() => {
        for (const vg of this.lvm("vgs", "--noheadings", "-o", "vg_name").split("\n").map((s) => s.trim()).filter(Boolean)) quiet(() => this.lvm("vgremove", "--force", "--yes", vg));
      });
      for (const l of this.luns) quiet(() => this.lvm("pvremove", "--force", "--yes", l.device));
    }
    for (const l of this.luns) quiet(() => execFileSync("losetup", ["--detach", l.device]));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
