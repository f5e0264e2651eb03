/**
 * The storage-domain driver interface: what every kind of domain (file: a directory on a mount;
 * block: an LVM volume group on a shared LUN) offers the rest of the storage code, and the driver
 * registry the DomainRegistry consults, one driver per domain class (as Incus's storage drivers).
 * A driver finds its domains by sdUUID, lists them, and creates new ones; a domain reads and seals
 * its own metadata, lists its images and volumes, keeps each volume's metadata, and names the
 * places of its leases and master area on this host.
 */
import type { Md, VolumeMd } from "../metadata.js";

/** Registered driver names. */
export type DriverName = "file" | "block";

/** VDSM's storage types per driver (the `TYPE` key of the domain metadata). */
export const FILE_TYPES = ["NFS", "LOCALFS", "POSIXFS", "GLUSTERFS", "CIFS"] as const;
export const BLOCK_TYPES = ["FCP", "ISCSI"] as const;

export interface DomainSpace {
  total: number;
  free: number;
  blockSize: number;
}

export interface StorageDomain {
  readonly driver: DriverName;
  readonly sdUUID: string;
  /** The domain's directory on this host (pool links point here; block: links to LV devices). */
  readonly dir: string;
  /** `dom_md` under `dir`. */
  readonly mdDir: string;
  /** Still reachable under the identity cached for it (the registry re-checks before reuse). */
  present(): Promise<boolean>;
  /** Reads and verifies the sealed domain metadata. */
  metadata(opts?: { fresh?: boolean }): Promise<Md>;
  /** Read-modify-write of the metadata under the domain's writer lock; null deletes a key. */
  update(changes: Record<string, string | null>): Promise<Md>;
  /** Image UUIDs, excluding images being deleted. */
  listImages(): Promise<string[]>;
  /** Volume UUIDs of one image; ImageDoesNotExistInSD when there is none. */
  listVolumes(imgUUID: string): Promise<string[]>;
  hasImage(imgUUID: string): Promise<boolean>;
  space(): Promise<DomainSpace>;
  /** One volume's metadata; VolumeDoesNotExist when it has none. */
  readVolumeMeta(imgUUID: string, volUUID: string): Promise<VolumeMd>;
  /** Replaces one volume's metadata in one write. */
  writeVolumeMeta(imgUUID: string, volUUID: string, md: VolumeMd): Promise<void>;
  /**
   * Claims storage for a new volume (file: image dir, `.meta`, `.lease`, a data file of `bytes`;
   * block: one-segment LV of at least `bytes` with IU_/PU_/MD_ tags and a metadata slot).
   * VolumeAlreadyExists if the id is taken. The volume has no metadata until writeVolumeMeta.
   */
  createVolumeArea(imgUUID: string, volUUID: string, parentUUID: string, bytes: number): Promise<void>;
  /** Releases what createVolumeArea claimed (crash-safe order; a no-op for a volume already gone). */
  removeVolumeArea(imgUUID: string, volUUID: string): Promise<void>;
  /** A path QEMU and qemu-img can open for the volume's data (block: an activated LV). */
  prepareVolume(imgUUID: string, volUUID: string): Promise<string>;
  /** Undoes prepareVolume (block: deactivates the LV; file: nothing). */
  teardownVolume(imgUUID: string, volUUID: string): Promise<void>;
  /** Bytes the volume's storage holds now (file: the data file's size; block: the LV size). */
  volumeAreaSize(imgUUID: string, volUUID: string): Promise<number>;
  /** The leases area (the SPM lease lives at a fixed offset in it). */
  leasesPath(): string;
  /** The pool's `master/` area when this domain is the master. */
  masterDir(): string;
  /** The metadata file (file domains; block domains keep their metadata in VG tags). */
  readonly mdPath?: string;
  /** Makes dom_md usable on this host (block: special LVs activated and linked). */
  prepareHost?(): Promise<void>;
  /** Makes masterDir() usable (block: mounts the `master` LV; only the SPM or the pool's creator). */
  prepareMaster?(): Promise<void>;
  releaseMaster?(): Promise<void>;
}

/** A driver: finds the domains of its kind that this host can reach. */
export interface DomainDriver<D extends StorageDomain = StorageDomain> {
  readonly name: DriverName;
  /** The domain with this UUID among those the driver reaches, if any. */
  find(sdUUID: string): Promise<D | undefined>;
  /** Every domain of this kind the host reaches. */
  all(): Promise<D[]>;
}

/** Driver name for a metadata TYPE value; undefined for a type no driver serves. */
export function driverOfType(type: string): DriverName | undefined {
  if ((FILE_TYPES as readonly string[]).includes(type)) return "file";
  if ((BLOCK_TYPES as readonly string[]).includes(type)) return "block";
  return undefined;
}
