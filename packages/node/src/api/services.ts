/**
 * Interfaces between the node's subsystems, so virt/ depends on what storage/ offers and not on
 * how it is built.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { DriveSpec } from "@vela/protocol";
import type { PartialHandlers } from "./handlers.js";

/** One volume of a prepared chain, leaf first. */
export interface ChainVolume {
  volumeID: string;
  path: string;
  format: "qcow2" | "raw";
}

export interface PreparedImage {
  /** Path of the leaf volume, the one QEMU opens read-write. */
  path: string;
  format: "qcow2" | "raw";
  /** Leaf first, base last. */
  chain: ChainVolume[];
}

/** A thin volume's allocation (bytes): what its storage holds now, its capacity, the extension chunk. */
export interface ThinAllocation {
  allocated: number;
  capacity: number;
  chunk: number;
}

/** What storage/ offers to virt/: make a drive's volume chain available on this host. */
export interface ImageService {
  prepare(drive: Pick<DriveSpec, "poolID" | "domainID" | "imageID" | "volumeID">): Promise<PreparedImage>;
  teardown(drive: Pick<DriveSpec, "poolID" | "domainID" | "imageID" | "volumeID">): Promise<void>;
  /** For thin volumes (block COW SPARSE): the allocation; undefined for volumes that never need extending. */
  allocation?(drive: Pick<DriveSpec, "poolID" | "domainID" | "imageID" | "volumeID">): Promise<ThinAllocation | undefined>;
  /** Grows a thin volume's allocation to at least `bytes` (through the SPM); answers the new allocation. */
  extend?(drive: Pick<DriveSpec, "poolID" | "domainID" | "imageID" | "volumeID">, bytes: number): Promise<number>;
  /**
   * Makes this host's device of a volume show its LV's size now (after the SPM grew it for a live
   * disk extension). Nothing to do where the device follows by itself (files).
   */
  refresh?(drive: Pick<DriveSpec, "poolID" | "domainID" | "imageID" | "volumeID">): Promise<void>;
  /** Live merge (virt/merge.ts): refuses a merge of `top` into its parent `base` the drive's chain does not allow. */
  checkLiveMerge?(drive: Pick<DriveSpec, "domainID" | "imageID" | "volumeID">, base: string, top: string): Promise<void>;
  /** After QEMU committed `top` into `base`: the volume metadata follows; top is left ILLEGAL for the engine to delete. */
  syncMergedChain?(drive: Pick<DriveSpec, "domainID" | "imageID" | "volumeID">, base: string, top: string): Promise<void>;
  /** The path of a domain's ISO file for a CD-ROM drive; changeDisk when missing or not an ISO image. */
  isoPath(domainID: string, file: string): Promise<string>;
}

/** A subsystem of the agent: its verbs, and how to stop it. */
export interface Subsystem {
  handlers: PartialHandlers;
  /** Takes an HTTP upgrade request it serves (true), or leaves it (false). */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): Promise<void>;
}
