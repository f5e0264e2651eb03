/**
 * What a node's refusal means to the API client: VDSM error codes mapped to HTTP statuses, so a
 * path that does not exist is a 400 and a missing volume a 404, not a 500. The node's own message
 * is the fault's detail. Codes not listed (the node or its storage failed) stay 500. Imports only
 * the protocol's error table (no zod), so the server can use it before any resource is loaded.
 */
import { type ErrorName, ErrorCodes } from "@vela/protocol/errors";
import { ApiFault } from "./fault.js";

/** The request was wrong: bad arguments, paths, sizes or formats. */
const BAD_REQUEST: ErrorName[] = [
  "InvalidParameter",
  "unsupFormat",
  "IncorrectFormat",
  "IncorrectType",
  "createVolumeSizeError",
  "VolumeResizeValueError",
  "StorageDomainTypeError",
  "StorageDomainClassError",
  "StorageDomainDescriptionTooLongError",
  "StoragePoolDescriptionTooLongError",
  "StorageDomainIllegalRemotePath",
  "StorageServerValidationError",
  "StorageServerAccessPermissionError",
  "UnsupportedDomainVersion",
  // a CD-ROM medium that is not an ISO file of the domain
  "changeDisk",
  "InvalidIpAddress",
  // setupNetworks: a NIC, bond, VLAN, bridge or address the host does not have or cannot make
  "ERR_BAD_PARAMS",
  "ERR_BAD_ADDR",
  "ERR_BAD_NIC",
  "ERR_BAD_BONDING",
  "ERR_BAD_VLAN",
  "ERR_BAD_BRIDGE",
];

/** Something named does not exist on the node. */
const NOT_FOUND: ErrorName[] = ["noVM", "imageErr", "VolumeDoesNotExist", "ImageDoesNotExistInSD", "StorageDomainDoesNotExist", "StorageDomainMetadataNotFound", "UnknownTask", "ImageTicketNotFound"];

/** The state on the node forbids it now (exists already, busy, in use, full). */
const CONFLICT: ErrorName[] = [
  "exist",
  // a live merge the drive's chain or domain does not allow now (a block domain, a branch, a merge under way)
  "mergeErr",
  // The host cannot run this VM definition (boot files outside its allowed directories, a
  // missing bridge, an accelerator it lacks): the request may be fine for another host.
  "createErr",
  "VolumeAlreadyExists",
  "VolumeIsBusy",
  "VolumeImageHasChildren",
  "StorageDomainAlreadyExists",
  "StorageDomainAlreadyAttached",
  "StorageDomainNotEmpty",
  "StoragePoolAlreadyExists",
  "CannotFormatAttachedStorageDomain",
  "CannotDetachMasterStorageDomain",
  "StorageDomainStateTransitionIllegal",
  "NoSpaceLeftOnDomain",
  // a block domain's VG without room (or without the contiguous extents a loop-path LV needs)
  "VolumeGroupSizeError",
  "TaskInProgress",
  "MiscOperationInProgress",
  "SpmStatusError",
  // The host has no iSCSI initiator (no iscsi_tcp in its kernel): another host may.
  "iSCSISetupError",
  // setupNetworks: the NIC or bridge carries something else now
  "ERR_USED_NIC",
  "ERR_USED_BRIDGE",
];

const STATUS = new Map<number, 400 | 404 | 409>([
  ...BAD_REQUEST.map((n) => [ErrorCodes[n].code, 400] as const),
  ...NOT_FOUND.map((n) => [ErrorCodes[n].code, 404] as const),
  ...CONFLICT.map((n) => [ErrorCodes[n].code, 409] as const),
]);

/** The HTTP status for a VDSM code: 400/404/409 for refusals the client can act on, else 500. */
export function statusOfNodeCode(code: number): 400 | 404 | 409 | 500 {
  return STATUS.get(code) ?? 500;
}

/** The fault for a node's refusal; `detail` already carries the node's message. */
export function nodeFault(code: number, detail: string, cause?: unknown): ApiFault {
  return new ApiFault(statusOfNodeCode(code), "Operation Failed", detail, { cause });
}
