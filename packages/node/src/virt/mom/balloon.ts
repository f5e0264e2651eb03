/**
 * A VM's virtio balloon (oVirt's memory_policy.ballooning): the device on the command line, the
 * guest's memory statistics it carries (QEMU polls them every few seconds once asked), its
 * current size (QMP `query-balloon`) and a new target (QMP `balloon`). Sizes are KiB, as VDSM's
 * balloonInfo and memoryStats; QEMU speaks bytes.
 */
import type { VmParams } from "@vela/protocol";
import type { QmpClient } from "../../qemu/qmp.js";

export const BALLOON_ID = "balloon0";
const BALLOON_PATH = `/machine/peripheral/${BALLOON_ID}`;
/** Seconds between the guest's statistics reports. */
const STATS_POLL_SEC = 2;

export function balloonArgv(params: Pick<VmParams, "balloon">): string[] {
  return params.balloon ? ["-device", JSON.stringify({ driver: "virtio-balloon-pci", id: BALLOON_ID })] : [];
}

/** Asks QEMU to collect the guest's memory statistics (before the guest runs). */
export async function enableBalloonStats(qmp: QmpClient): Promise<void> {
  await qmp.qomSet(BALLOON_PATH, "guest-stats-polling-interval", STATS_POLL_SEC);
}

/** The smallest size (KiB) the balloon may leave the guest: its guarantee, else all its memory. */
export function balloonMinKiB(params: Pick<VmParams, "memSize" | "memGuaranteedSize">): number {
  return Math.min(params.memSize, params.memGuaranteedSize ?? params.memSize) * 1024;
}

export async function balloonActualKiB(qmp: QmpClient): Promise<number> {
  return Math.round((await qmp.queryBalloon()).actual / 1024);
}

export async function setBalloonKiB(qmp: QmpClient, kib: number): Promise<void> {
  await qmp.balloon(kib * 1024);
}

/** QEMU's guest-stats names → VDSM's memoryStats names. */
const STAT_NAMES: Record<string, string> = {
  "stat-total-memory": "mem_total",
  "stat-free-memory": "mem_unused",
  "stat-available-memory": "mem_free",
  "stat-disk-caches": "mem_cached",
  "stat-swap-in": "swap_in",
  "stat-swap-out": "swap_out",
  "stat-major-faults": "majflt",
  "stat-minor-faults": "minflt",
};
const COUNTS = new Set(["majflt", "minflt"]);

/** The guest's memory statistics (KiB; fault counts as counts), or undefined before its first report. */
export async function guestMemoryStats(qmp: QmpClient): Promise<Record<string, string> | undefined> {
  const got = (await qmp.qomGet(BALLOON_PATH, "guest-stats")) as { stats?: Record<string, number>; "last-update"?: number };
  if (!got.stats || !got["last-update"]) return undefined;
  const out: Record<string, string> = {};
  for (const [qemu, vdsm] of Object.entries(STAT_NAMES)) {
    const v = got.stats[qemu];
    if (typeof v !== "number" || v < 0) continue; // -1: the guest does not report it
    out[vdsm] = String(COUNTS.has(vdsm) ? v : Math.round(v / 1024));
  }
  return Object.keys(out).length ? out : undefined;
}
