/**
 * Error codes shared by node and engine, numbered as VDSM numbers them (lib/vdsm/common/define.py
 * and lib/vdsm/storage/exception.py), so that a code means the same thing to an oVirt-era tool.
 * A code is stable forever; add new ones, never renumber.
 */

export const ErrorCodes = {
  // general (define.py)
  noVM: { code: 1, message: "Virtual machine does not exist" },
  exist: { code: 4, message: "Virtual machine already exists" },
  createErr: { code: 9, message: "Error creating the requested VM" },
  unexpected: { code: 16, message: "Unexpected exception" },
  unsupFormat: { code: 17, message: "Unsupported format" },
  noimpl: { code: 44, message: "Method not implemented" },
  methodNotFound: { code: -32601, message: "Method not found" },
  GeneralException: { code: 100, message: "General Exception" },
  InvalidParameter: { code: 1000, message: "Invalid parameter" },
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
  StorageDomainMetadataCreationError: { code: 366, message: "Error creating a storage domain's metadata" },
  StorageDomainMetadataFileMissing: { code: 367, message: "Storage domain metadata file is missing" },
  StorageDomainDescriptionTooLongError: { code: 369, message: "Storage domain description is too long" },
  MetaDataSealIsBroken: { code: 753, message: "Metadata seal is broken (checksum mismatch)" },
  StorageServerConnectionError: { code: 451, message: "Error in storage server connection" },
  StorageServerAccessPermissionError: { code: 469, message: "Permission settings on the specified path do not allow access" },
  UnknownTask: { code: 401, message: "Task id unknown" },
  TaskNotFinished: { code: 411, message: "Task not finished" },
  SpmStatusError: { code: 654, message: "Not SPM" },
  ResourceTimeout: { code: 851, message: "Resource timeout" },
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
