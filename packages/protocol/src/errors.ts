/**
 * Error codes shared by node and engine, numbered as VDSM numbers them (lib/vdsm/common/define.py
 * and lib/vdsm/storage/exception.py), so that a code means the same thing to an oVirt-era tool.
 * A code is stable forever; add new ones, never renumber. No zod and no I/O: the engine imports
 * it as `@vela/protocol/errors` on its start-up path.
 */

export const ErrorCodes = {
  // general (define.py)
  noVM: { code: 1, message: "Virtual machine does not exist" },
  exist: { code: 4, message: "Virtual machine already exists" },
  createErr: { code: 9, message: "Error creating the requested VM" },
  imageErr: { code: 13, message: "Drive image file could not be found" },
  unexpected: { code: 16, message: "Unexpected exception" },
  unsupFormat: { code: 17, message: "Unsupported format" },
  noimpl: { code: 44, message: "Method not implemented" },
  methodNotFound: { code: -32601, message: "Method not found" },
  GeneralException: { code: 100, message: "General Exception" },
  InvalidParameter: { code: 1000, message: "Invalid parameter" },
  // networking (VDSM's network/errors.py and define.py)
  ERR_LOST_CONNECTION: { code: 10, message: "Connectivity check failed, the network change was rolled back" },
  ERR_BAD_PARAMS: { code: 21, message: "Bad network parameters" },
  ERR_BAD_ADDR: { code: 22, message: "Bad address" },
  ERR_BAD_NIC: { code: 23, message: "Bad NIC" },
  ERR_USED_NIC: { code: 24, message: "NIC in use" },
  ERR_BAD_BONDING: { code: 25, message: "Bad bonding" },
  ERR_BAD_VLAN: { code: 26, message: "Bad VLAN" },
  ERR_BAD_BRIDGE: { code: 27, message: "Bad bridge" },
  ERR_USED_BRIDGE: { code: 28, message: "Bridge in use" },
  ERR_FAILED_IFUP: { code: 29, message: "Failed to bring the interface up" },
  hotplugNic: { code: 49, message: "Failed to hotplug NIC" },
  hotunplugNic: { code: 50, message: "Failed to hot-unplug NIC" },
  updateDevice: { code: 56, message: "Failed to update device" },
  changeDisk: { code: 41, message: "Failed to change disk image" },
  snapshotErr: { code: 48, message: "Snapshot failed" },
  mergeErr: { code: 52, message: "Merge failed" },
  // storage (exception.py)
  StorageException: { code: 200, message: "General Storage Exception" },
  VolumeDoesNotExist: { code: 201, message: "Volume does not exist" },
  IncorrectFormat: { code: 202, message: "Incorrect Volume format" },
  VolumeIsBusy: { code: 203, message: "Volume is busy" },
  VolumeImageHasChildren: { code: 204, message: "Cannot delete volume which has children" },
  VolumeCreationError: { code: 205, message: "Error creating a new volume" },
  VolumeExtendingError: { code: 206, message: "Error extending volume" },
  VolumeMetadataReadError: { code: 207, message: "Error while processing volume meta data" },
  VolumeMetadataWriteError: { code: 208, message: "Error while updating volume meta data" },
  VolumeAlreadyExists: { code: 212, message: "Volume already exists" },
  CannotDeleteVolume: { code: 222, message: "Volume deletion error" },
  CannotDeleteSharedVolume: { code: 223, message: "Shared Volume cannot be deleted" },
  VolumeCopyError: { code: 225, message: "Volume copy failed" },
  prepareIllegalVolumeError: { code: 227, message: "Cannot prepare illegal volume" },
  createVolumeSizeError: { code: 229, message: "Requested size is too small. Must be larger or equal to 1" },
  IncorrectType: { code: 231, message: "Incorrect Volume Preallocate Type" },
  VolumeResizeValueError: { code: 232, message: "Incorrect size value for volume resize" },
  ImagePathError: { code: 254, message: "Image path does not exist or cannot be accessed/created" },
  ImageDeleteError: { code: 256, message: "Could not remove all image's volumes" },
  CopyImageError: { code: 261, message: "low level Image copy failed" },
  ImageIsNotLegalChain: { code: 262, message: "Image is not a legal chain" },
  ImageDoesNotExistInSD: { code: 268, message: "Image does not exist in domain" },
  StoragePoolActionError: { code: 300, message: "Error storage pool action" },
  StoragePoolCreationError: { code: 301, message: "Error creating a storage pool" },
  StoragePoolMasterNotFound: { code: 304, message: "Cannot find master domain" },
  StoragePoolUnknown: { code: 309, message: "Unknown pool id, pool not connected" },
  StoragePoolNotConnected: { code: 313, message: "Storage pool not connected" },
  StoragePoolAlreadyExists: { code: 316, message: "Error creating a storage pool - pool already exists" },
  StoragePoolWrongMaster: { code: 324, message: "Wrong Master domain or its version" },
  StorageDomainDoesNotExist: { code: 358, message: "Storage domain does not exist" },
  StorageDomainAlreadyExists: { code: 365, message: "Storage domain already exists" },
  StorageDomainMetadataCreationError: { code: 362, message: "Error creating a storage domain's metadata" },
  StorageDomainMetadataFileMissing: { code: 363, message: "Storage domain metadata file is missing" },
  StorageDomainDescriptionTooLongError: { code: 387, message: "Storage domain description is too long" },
  MetaDataSealIsBroken: { code: 752, message: "Metadata seal is broken (checksum mismatch)" },
  StorageServerConnectionError: { code: 451, message: "Error in storage server connection" },
  StorageServerAccessPermissionError: { code: 469, message: "Permission settings on the specified path do not allow access" },
  UnknownTask: { code: 401, message: "Task id unknown" },
  TaskNotFinished: { code: 403, message: "Task not finished" },
  SpmStatusError: { code: 654, message: "Not SPM" },
  ResourceTimeout: { code: 851, message: "Resource timeout" },
  // storage, added with the storage subsystem (codes and messages as VDSM's exception.py)
  VolumeCannotGetParent: { code: 216, message: "Cannot get parent volume" },
  VolumeNonWritable: { code: 213, message: "Volume cannot be access to writes" },
  VolumeNonShareable: { code: 214, message: "Volume cannot be shared, it's not Shared/Template volume" },
  createIllegalVolumeSnapshotError: { code: 226, message: "Cannot create volume snapshot from illegal volume" },
  InvalidVolumeUpdate: { code: 235, message: "Cannot update volume attributes" },
  MergeSnapshotsError: { code: 252, message: "Error merging snapshots" },
  MoveImageError: { code: 253, message: "Error moving image" },
  StoragePoolConnectionError: { code: 302, message: "Error storage pool connection" },
  StoragePoolDisconnectionError: { code: 303, message: "Error storage pool disconnection" },
  CannotConnectMultiplePools: { code: 323, message: "Cannot connect pool, already connected to another pool" },
  StoragePoolDescriptionTooLongError: { code: 327, message: "Storage pool description is too long" },
  StorageDomainCreationError: { code: 351, message: "Error creating a storage domain" },
  StorageDomainNotInPool: { code: 353, message: "Storage domain not in pool" },
  StorageDomainAttachError: { code: 354, message: "Error attaching storage domain" },
  StorageDomainMasterError: { code: 355, message: "Error validating master storage domain" },
  StorageDomainDetachError: { code: 356, message: "Error detaching storage domain" },
  StorageDomainFSNotMounted: { code: 360, message: "Storage domain remote path not mounted" },
  StorageDomainNotEmpty: { code: 361, message: "Storage domain is not empty - requires cleaning" },
  StorageDomainMetadataNotFound: { code: 364, message: "Storage domain invalid, metadata not found" },
  StorageDomainTypeError: { code: 372, message: "Unsupported Storage Domain type" },
  StorageDomainNotMemberOfPool: { code: 375, message: "Domain is not member in pool" },
  StorageDomainAccessError: { code: 379, message: "Domain is either partially accessible or entirely inaccessible" },
  StorageDomainAlreadyAttached: { code: 380, message: "Storage domain already attached to pool" },
  StorageDomainStateTransitionIllegal: { code: 381, message: "Domain state change illegal" },
  CannotDetachMasterStorageDomain: { code: 383, message: "Illegal action" },
  StorageDomainClassError: { code: 386, message: "Invalid domain class value" },
  StorageDomainIllegalRemotePath: { code: 390, message: "Remote path is illegal" },
  CannotFormatAttachedStorageDomain: { code: 391, message: "Cannot format attached storage domain" },
  UnsupportedDomainVersion: { code: 394, message: "Domain version is unsupported" },
  NoSpaceLeftOnDomain: { code: 397, message: "No space left on domain" },
  MixedSDVersionError: { code: 398, message: "Domain version is different from the master domain version" },
  InvalidTask: { code: 400, message: "Task invalid" },
  TaskClearError: { code: 402, message: "Could not clear task" },
  TaskInProgress: { code: 406, message: "Running Task in progress" },
  TaskStateError: { code: 410, message: "Operation is not allowed in this task state" },
  TaskAborted: { code: 411, message: "Task is aborted" },
  StorageServerDisconnectionError: { code: 452, message: "Error storage server disconnection" },
  StorageServerValidationError: { code: 453, message: "The specified path does not exist or cannot be reached." },
  MountError: { code: 477, message: "Problem while trying to mount target" },
  // iSCSI (VDSM's StorageServeriSCSIError family)
  iSCSILoginError: { code: 464, message: "Failed to login to iSCSI node" },
  iSCSISetupError: { code: 465, message: "Failed to setup iSCSI subsystem" },
  InvalidIpAddress: { code: 472, message: "Invalid IP address" },
  iSCSIDiscoveryError: { code: 475, message: "Failed discovery of iSCSI targets" },
  // LVM and block devices (exception.py 500–620), for block storage domains
  VolumeGroupActionError: { code: 500, message: "Error volume group action" },
  VolumeGroupCreateError: { code: 502, message: "Cannot create Volume Group" },
  VolumeGroupSizeError: { code: 504, message: "Volume Group not big enough" },
  VolumeGroupAlreadyExistsError: { code: 505, message: "Volume Group Already Exists" },
  VolumeGroupDoesNotExist: { code: 506, message: "Volume Group does not exist" },
  VolumeGroupRemoveError: { code: 508, message: "Volume Group remove error" },
  GetVolumeGroupListError: { code: 514, message: "Get Volume Group list error" },
  VolumeGroupHasDomainTag: { code: 515, message: "Volume Group has domain tag - requires cleaning" },
  VolumeGroupReplaceTagError: { code: 516, message: "Replace Volume Group tag error" },
  CannotCreateLogicalVolume: { code: 550, message: "Cannot create Logical Volume" },
  CannotRemoveLogicalVolume: { code: 551, message: "Cannot remove Logical Volume" },
  CannotDeactivateLogicalVolume: { code: 552, message: "Cannot deactivate Logical Volume" },
  CannotAccessLogicalVolume: { code: 553, message: "Cannot access Logical Volume" },
  LogicalVolumeExtendError: { code: 554, message: "Logical Volume extend failed" },
  LogicalVolumesListError: { code: 555, message: "Cannot get Logical Volumes list from Volume Group" },
  LogicalVolumeRefreshError: { code: 556, message: "Cannot refresh Logical Volume" },
  LogicalVolumeScanError: { code: 557, message: "Logical volume scanning error" },
  CannotActivateLogicalVolume: { code: 558, message: "Cannot activate Logical Volume" },
  LogicalVolumeReplaceTagError: { code: 572, message: "Replace Logical Volume tag error" },
  BlockDeviceActionError: { code: 600, message: "Error block device action" },
  PhysDevInitializationError: { code: 601, message: "Failed to initialize physical device" },
  CouldNotRetrievePhysicalVolumeList: { code: 603, message: "Could not retrieve pv list" },
  InaccessiblePhysDev: { code: 606, message: "Multipath cannot access physical device(s)" },
  MissingTagOnLogicalVolume: { code: 609, message: "Missing logical volume tag." },
  LogicalVolumeDoesNotExistError: { code: 610, message: "Logical volume does not exist" },
  SpmStartError: { code: 650, message: "Error starting SPM" },
  AcquireLockFailure: { code: 651, message: "Cannot obtain lock" },
  SpmParamsMismatch: { code: 652, message: "Pool previous lver/id don't match" },
  SpmStopError: { code: 653, message: "Error stopping SPM, SPM has unfinished task(s)" },
  IsSpm: { code: 656, message: "Operation not allowed while SPM is active" },
  ReleaseLockFailure: { code: 660, message: "Cannot release lock" },
  ClusterLockInitError: { code: 701, message: "Could not initialize cluster lock" },
  MetaDataKeyError: { code: 750, message: "Meta data key error" },
  MetaDataValidationError: { code: 753, message: "Meta Data self-validation failed" },
  MetadataOverflowError: { code: 756, message: "Metadata is too big. Cannot change Metadata" },
  MetadataCleared: { code: 757, message: "Metadata was cleared, volume is partly deleted" },
  ResourceAcqusitionFailed: { code: 855, message: "Could not acquire resource." },
  MiscOperationInProgress: { code: 2005, message: "Operation is already in progress" },
  UnsupportedOperation: { code: 2009, message: "Unsupported operation" },
  // Vela's image transfer tickets (VDSM kept these in ovirt-imageio, outside its code table)
  ImageTicketNotFound: { code: 2100, message: "No such image ticket" },
} as const;

export type ErrorName = keyof typeof ErrorCodes;

/** VDSM's result envelope: code 0 is success. */
export interface Status {
  code: number;
  message: string;
}

export const DONE: Status = { code: 0, message: "Done" };

/**
 * The one error type a node verb throws. `name` is the stable symbolic code (VDSM's class name),
 * `code` its number, `detail` what went wrong with which object.
 */
export class VdsmError extends Error {
  readonly code: number;
  readonly errName: ErrorName;
  readonly detail: string;

  constructor(name: ErrorName, detail?: string, options?: { cause?: unknown }) {
    const base = ErrorCodes[name];
    super(detail ? `${base.message}: ${detail}` : base.message, options);
    this.name = "VdsmError";
    this.errName = name;
    this.code = base.code;
    this.detail = detail ?? "";
  }

  get status(): Status {
    return { code: this.code, message: this.message };
  }
}

/** Each named error's number, e.g. `Code.noVM === 1`: what a caller compares a node's error code with. */
export const Code = Object.fromEntries(Object.entries(ErrorCodes).map(([k, v]) => [k, v.code])) as {
  readonly [K in ErrorName]: (typeof ErrorCodes)[K]["code"];
};
