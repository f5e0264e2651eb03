/**
 * Event codes and severities, numbered as oVirt's AuditLogType where oVirt has the event (so
 * clients filtering on codes keep working); Vela's own events are numbered from 100000. Only the
 * events Vela records are listed.
 */
export type Severity = "normal" | "warning" | "error" | "alert";

export const Code = {
  /** Host answered again / was set up. */
  HOST_UP: 13,
  HOST_NON_RESPONSIVE: 12,
  HOST_NON_OPERATIONAL: 100_001,
  VM_UP: 100_002,
  VM_DOWN: 61,
  VM_DOWN_ERROR: 119,
  VM_PAUSED: 1025,
  /** oVirt's VM_PAUSED_ENOSPC: paused because a thin disk got no room. */
  VM_PAUSED_ENOSPC: 138,
  VM_STATUS_CHANGED: 100_003,
  ACTION_DONE: 100_010,
  ACTION_FAILED: 100_011,
  /** Quotas (quotas/consume.ts): past the soft limit; past the limit; past the hard limit, refused or (audit) allowed. */
  QUOTA_SOFT_LIMIT: 100_030,
  QUOTA_LIMIT: 100_031,
  QUOTA_HARD_LIMIT: 100_032,
  QUOTA_HARD_LIMIT_AUDIT: 100_033,
  STORAGE_DOMAIN_ACTIVE: 966,
  STORAGE_DOMAIN_INACTIVE: 970,
} as const;

/** Per command name (command.ts): [code when done, code when failed], oVirt's USER_* codes. */
export const ACTION_CODES: Record<string, [number, number]> = {
  "run VM": [32, 54],
  "stop VM": [33, 56],
  "shutdown VM": [73, 74],
  "add VM": [34, 57],
  "remove VM": [113, 114],
  "update VM": [35, 58],
  "add Disk": [2020, 2022],
  "remove Disk": [2014, 2015],
  "activate Host": [16, 17],
  "deactivate Host": [18, 19],
  "activate Storage Domain": [966, 967],
  "deactivate Storage Domain": [968, 969],
  "setup Networks": [1120, 1121],
};
