/**
 * VM verbs. The engine sends the full VM definition at `create` (nodes keep no VM configuration):
 * memory, vCPUs, drives named by pool/domain/image/volume UUIDs, NICs on named bridges, and an
 * optional direct kernel boot whose files must lie in a directory the node allows.
 */
import { z } from "zod";
import { Bytes, Text, Uuid } from "../schemas.js";
import { done, out, p, verb } from "../verb.js";
import { DomainId, ImageId, Int, PoolId, VolumeId } from "./common.js";
import { VmPayload } from "./payload.js";
import { CdromSpec } from "./cdrom.js";

export const DriveSpec = z.object({
  poolID: PoolId,
  domainID: DomainId,
  imageID: ImageId,
  volumeID: VolumeId,
  iface: z.enum(["virtio", "ide", "sata", "scsi"]).default("virtio"),
  index: z.number().int().min(0).max(63).optional(),
  readonly: z.boolean().default(false),
  bootOrder: z.number().int().min(1).max(64).optional(),
});
export type DriveSpec = z.infer<typeof DriveSpec>;

/** The drive of a running VM named as VDSM's driveSpecs name it. */
export const DiskSizeDrive = z.object({ poolID: PoolId, domainID: DomainId, imageID: ImageId, volumeID: VolumeId });
/** A disk's new size in bytes: a positive integer up to 1 PiB, a multiple of 512 (QEMU's sector). */
export const DiskBytes = Bytes.refine((n) => n > 0 && n <= 2 ** 50 && n % 512 === 0, { message: "size must be a positive multiple of 512 bytes, at most 1 PiB" });

/** A Linux interface name: what `ip link` accepts, nothing that could be an option or a path. */
export const IfName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/, "not an interface name");
export const MacAddr = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, "not a MAC address")
  .transform((s) => s.toLowerCase());

export const NicSpec = z.object({
  macAddr: MacAddr,
  /** Bridge the tap joins; "user" is QEMU user-mode networking (no bridge). */
  network: z.union([IfName, z.literal("user")]),
  nicModel: z.enum(["virtio", "e1000", "rtl8139"]).default("virtio"),
  /** Link state at start (oVirt's `linked`): false starts the NIC with its cable pulled. */
  linkActive: z.boolean().default(true),
});
export type NicSpec = z.infer<typeof NicSpec>;

/** An absolute, normalised path; the node further requires it to lie in an allowed directory. */
export const AbsPath = z
  .string()
  .max(4096)
  .refine((s) => s.startsWith("/") && !s.split("/").some((c) => c === ".." || c === ".") && !s.includes("\0"), {
    message: "not an absolute normalised path",
  });

export const VmParams = z.object({
  vmId: Uuid,
  vmName: Text(255).regex(/^[^\0\n]*$/, "control characters in name"),
  /** MiB, as VDSM's memSize. */
  memSize: Int.refine((n) => n >= 16 && n <= 4 * 1024 * 1024, { message: "memSize out of range (16 MiB..4 TiB)" }),
  smp: Int.refine((n) => n >= 1 && n <= 288, { message: "smp out of range (1..288)" }).default(1),
  drives: z.array(DriveSpec).max(32).default([]),
  nics: z.array(NicSpec).max(16).default([]),
  display: z.enum(["vnc", "none"]).default("vnc"),
  kernel: AbsPath.optional(),
  initrd: AbsPath.optional(),
  kernelArgs: z.string().max(2048).regex(/^[^\0\n]*$/).optional(),
  /** Forces an accelerator for this VM; default is the host's probe result. */
  accel: z.enum(["kvm", "tcg"]).optional(),
  /** A read-only seed disk (cloud-init NoCloud) the node writes into the VM's run directory. */
  payload: VmPayload.optional(),
  /** The medium in the VM's CD-ROM drive at start; every VM has one drive (empty without this). */
  cdrom: CdromSpec.optional(),
  /** A virtio balloon device (oVirt's memory_policy.ballooning), which the host's policy may inflate. */
  balloon: z.boolean().default(false),
  /** MiB the balloon never takes the guest below (oVirt's memory_policy.guaranteed); default memSize. */
  memGuaranteedSize: Int.optional(),
});
export type VmParams = z.infer<typeof VmParams>;

/** VDSM's VM statuses ("Up", "Powering up", "Down", …), as the node derives them from QEMU. */
export const VmStatusName = z.string();

/** A VM as VM.create and Host.getVMList answer it (the full form adds its definition). */
export const VmSummary = z.looseObject({ vmId: z.string(), status: VmStatusName });
export type VmSummary = z.infer<typeof VmSummary>;

/**
 * A live merge (VM.merge) as VM.getStats reports it in `vmJobs`: VDSM's members (cur/end in
 * bytes, strings) and `status`: running, ready (active commit: both layers equal, pivoting),
 * done, failed (with `error`). A finished job stays listed while the VM runs on this node, so
 * its caller can read the outcome.
 */
export const VmJob = z.object({
  id: Uuid,
  jobType: z.literal("block"),
  blockJobType: z.literal("commit"),
  drive: z.string(),
  imgUUID: ImageId,
  baseVolUUID: VolumeId,
  topVolUUID: VolumeId,
  bandwidth: z.number().int().nonnegative(),
  cur: z.string().regex(/^[0-9]+$/),
  end: z.string().regex(/^[0-9]+$/),
  status: z.enum(["running", "ready", "done", "failed"]),
  error: z.string().optional(),
});
export type VmJob = z.infer<typeof VmJob>;

/** VM.getStats / Host.getAllVmStats: one VM's run-time state (numbers as strings, as VDSM). */
export const VmStats = z.looseObject({
  vmId: z.string(),
  vmName: z.string(),
  status: VmStatusName,
  pid: z.string(),
  displayType: z.string(),
  displayPort: z.string(),
  /** Set once the VM is down: VDSM's exit code (0 normal, 1 error) and why. */
  exitCode: z.number().optional(),
  exitMessage: z.string().optional(),
  exitReason: z.number().optional(),
  /** While paused on a storage error: VDSM's pauseCode ("ENOSPC": a thin drive got no room). */
  pauseCode: z.string().optional(),
  /** Why a thin drive got no room (a full VG, a lost SPM), while the VM is paused for it. */
  thinError: z.string().optional(),
  /** Per drive name: ids, path and I/O counters. */
  disks: z.record(z.string(), z.record(z.string(), z.string())),
  /** The CD-ROM drive as QEMU reports it: the medium's path ("" when empty), tray state. */
  cdrom: z.object({ path: z.string(), trayOpen: z.string() }).optional(),
  /** With a balloon: VDSM's balloon figures (KiB, strings). */
  balloonInfo: z.object({ balloon_max: z.string(), balloon_cur: z.string(), balloon_target: z.string(), balloon_min: z.string() }).optional(),
  /** The guest's own memory figures through its balloon driver (KiB, strings), when it reports them. */
  memoryStats: z.record(z.string(), z.string()).optional(),
  /** The VM's block jobs (live merges, VM.merge) by job id, VDSM's `vmJobs` plus Vela's outcome. */
  vmJobs: z.record(z.string(), VmJob).optional(),
});
export type VmStats = z.infer<typeof VmStats>;

/**
 * One drive of a live snapshot (VDSM's VM.snapshot `snapDrives` entry): the drive is found by its
 * domain and image; `volumeID` is the new top the SPM already created on `baseVolumeID`, the
 * volume the VM writes into now.
 */
export const SnapDrive = z.object({ domainID: DomainId, imageID: ImageId, volumeID: VolumeId, baseVolumeID: VolumeId });
export type SnapDrive = z.infer<typeof SnapDrive>;


export const vmVerbs = {
  create: verb("create", "VM.create", [p("vmParams", VmParams, "vmParams"), p("vmID", Uuid.optional(), "vmID")], out("vmList", VmSummary)),
  destroy: verb("destroy", "VM.destroy", [p("vmId", Uuid, "vmID")], done),
  shutdown: verb("shutdown", "VM.shutdown", [
    p("vmId", Uuid, "vmID"),
    p("delay", Int.optional().default(0), "delay"),
    p("message", z.string().max(256).optional(), "message"),
    /** Reboot instead of power off (VDSM's order: delay, message, reboot, timeout, force). */
    p("reboot", z.boolean().optional().default(false), "reboot"),
    /** Seconds the guest gets before `force` acts: power off, or a hard reset when rebooting. */
    p("timeout", Int.refine((n) => n >= 0 && n <= 3600, { message: "timeout out of range (0..3600 s)" }).optional(), "timeout"),
    p("force", z.boolean().optional().default(false), "force"),
  ], done),
  list: verb(
    "list",
    "Host.getVMList",
    [p("full", z.boolean().optional().default(false), "fullStatus"), p("vmList", z.array(Uuid).max(1000).optional(), "vmList")],
    out("vmList", z.array(VmSummary)),
  ),
  getVmStats: verb("getVmStats", "VM.getStats", [p("vmId", Uuid, "vmID")], out("statsList", z.array(VmStats))),
  getAllVmStats: verb("getAllVmStats", "Host.getAllVmStats", [], out("statsList", z.array(VmStats))),
  /**
   * Live disk extension on the VM's host (VDSM's VM.diskSizeExtend): after the SPM grew the volume
   * (extendVolumeSize with `live`), the host refreshes its device of the volume and QEMU grows the
   * drive (`block_resize`); the guest sees the new size. Answers the drive's new virtual size.
   */
  diskSizeExtend: verb(
    "diskSizeExtend",
    "VM.diskSizeExtend",
    [p("vmId", Uuid, "vmID"), p("driveSpecs", DiskSizeDrive, "driveSpecs"), p("newSize", DiskBytes, "newSize")],
    out("size", z.string().regex(/^[0-9]+$/)),
  ),
  /**
   * Live snapshot: the running VM's drives switch to their new tops at once (one QMP transaction);
   * nothing changes if any drive fails. `snapMemory` (a memory volume) is not supported: refused.
   * The XML-RPC response carries VDSM's `quiesce` member (guest file systems frozen: never, no
   * guest agent); JSON-RPC answers `true`.
   */
  snapshot: verb("snapshot", "VM.snapshot", [
    p("vmId", Uuid, "vmID"),
    p("snapDrives", z.array(SnapDrive).min(1).max(32), "snapDrives"),
    p("snapMemory", z.string().max(1024).optional(), "snapMemory"),
    p("frozen", z.boolean().optional().default(false), "frozen"),
  ], done),
  /**
   * Live merge (VDSM's VM.merge): QEMU commits `topVolUUID` into its parent `baseVolUUID` while
   * the guest runs (`drive` names the drive by its image and current active volume). Answers at
   * once; the job, named by `jobUUID`, is then read in VM.getStats `vmJobs`. When it is done the
   * chain is one volume shorter (base takes top's place; top is ILLEGAL, left for the engine to
   * delete through the SPM); when it fails, the chain is as it was. File domains only: a block
   * domain's base would need room first (refused with mergeErr). `bandwidth`: MiB/s, 0 = no limit.
   */
  merge: verb("merge", "VM.merge", [
    p("vmId", Uuid, "vmID"),
    p("drive", DiskSizeDrive, "drive"),
    p("baseVolUUID", VolumeId, "baseVolUUID"),
    p("topVolUUID", VolumeId, "topVolUUID"),
    p("bandwidth", Int.refine((n) => n >= 0 && n <= 1_000_000, { message: "bandwidth out of range (0..1000000 MiB/s)" }).optional().default(0), "bandwidth"),
    p("jobUUID", Uuid, "jobUUID"),
  ], done),
} as const;
