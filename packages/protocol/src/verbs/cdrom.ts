/**
 * CD-ROM media: ISO files kept in a domain's ISO directory (VDSM's ISO domains hold them under
 * `images/11111111-1111-1111-1111-111111111111/`; Vela reads the same directory on data domains
 * too), the listing of a domain's ISOs (VDSM's `getFileStats`) and the live change of a running
 * VM's medium (VDSM's `VM.changeCD`). A file is named by its plain file name — never a path — so
 * nothing in a request can point the node outside that directory.
 */
import { z } from "zod";
import { Uuid } from "../schemas.js";
import { done, out, p, verb } from "../verb.js";
import { DomainId } from "./common.js";

/** The image directory of ISO files in a domain, fixed by VDSM. */
export const ISO_IMAGE_UUID = "11111111-1111-1111-1111-111111111111";

/** An ISO's file name: letters, digits, `._+-`, not starting with a dot, no slash. */
export const IsoFileName = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, "not a plain ISO file name (letters, digits, . _ + -, no leading dot, no slash)");

/** The medium in a VM's CD-ROM drive: a domain's ISO file, or `file: ""` for an empty drive. */
export const CdromSpec = z.union([
  z.object({ domainID: DomainId, file: IsoFileName }),
  z.object({ file: z.literal("") }),
]);
export type CdromSpec = z.infer<typeof CdromSpec>;

/** One entry of getFileStats: VDSM's {status, ctime, size}. */
export const FileStat = z.looseObject({ status: z.number(), ctime: z.string(), size: z.string() });
export type FileStat = z.infer<typeof FileStat>;

export const cdromVerbs = {
  /** The ISO9660 images of a domain's ISO directory (files that are not ISO images are left out). */
  getFileStats: verb("getFileStats", "StorageDomain.getFileStats", [p("sdUUID", DomainId, "storagedomainID")], out("fileStats", z.record(z.string(), FileStat))),
  /** Inserts, changes (`file` set) or ejects (`file: ""`) the medium of a running VM. */
  changeCD: verb("changeCD", "VM.changeCD", [p("vmId", Uuid, "vmID"), p("cdrom", CdromSpec, "driveSpec")], done),
} as const;
