/** VDSM's VM status strings → oVirt's vm status enum. Unknown strings map to `unknown`, never a guess. */
const MAP: Record<string, string> = {
  up: "up",
  down: "down",
  poweringup: "powering_up",
  poweringdown: "powering_down",
  paused: "paused",
  waitforlaunch: "wait_for_launch",
  migrationsource: "migrating",
  migrationdestination: "migrating",
  rebootinprogress: "reboot_in_progress",
  savingstate: "saving_state",
  restoringstate: "restoring_state",
  suspended: "suspended",
  notresponding: "not_responding",
};

export function vmStatusOf(vdsm: unknown): string {
  if (typeof vdsm !== "string") return "unknown";
  return MAP[vdsm.toLowerCase().replace(/[\s_-]/g, "")] ?? "unknown";
}
