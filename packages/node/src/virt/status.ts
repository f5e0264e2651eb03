/**
 * VDSM's VM statuses and exit reasons, and how QEMU's run states map onto them. The status of a
 * VM is always derived from what QEMU reports over QMP (or from its process being gone); this
 * module only translates, it never infers.
 */

export type VmStatus =
  | "WaitForLaunch"
  | "Powering up"
  | "Up"
  | "Paused"
  | "Powering down"
  | "Down"
  | "Migration Source"
  | "Migration Destination"
  | "Saving State"
  | "Restoring state";

/** QMP `query-status` → VDSM status. Unknown future states read as Paused: not running. */
export function fromQemuStatus(qemu: string): VmStatus {
  switch (qemu) {
    case "running":
    case "colo":
      return "Up";
    case "prelaunch":
      return "WaitForLaunch";
    case "inmigrate":
      return "Migration Destination";
    case "finish-migrate":
    case "postmigrate":
      return "Migration Source";
    case "save-vm":
      return "Saving State";
    case "restore-vm":
      return "Restoring state";
    case "shutdown":
      return "Down";
    default:
      // paused, suspended, io-error, internal-error, watchdog, guest-panicked, debug
      return "Paused";
  }
}

/** VDSM's exit reasons (the numbers the engine knows). */
export const ExitReason = {
  SUCCESS: 0,
  GENERIC_ERROR: 1,
  LOST_QEMU_CONNECTION: 2,
  START_FAILED: 3,
  ADMIN_SHUTDOWN: 6,
  USER_SHUTDOWN: 7,
  DESTROYED_ON_STARTUP: 10,
} as const;
