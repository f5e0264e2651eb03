/**
 * A VM's payload disk (VDSM's vmPayload): a small read-only seed the node writes as an ISO9660
 * image with the given volume id and files, e.g. cloud-init's NoCloud `cidata` with meta-data,
 * user-data and network-config. Files are text; names are plain file names (no directories), so
 * nothing in a request becomes a path on the host. Contents may carry secrets (passwords): nodes
 * never log them and keep them only in the VM's run directory.
 */
import { z } from "zod";

const MAX_FILE = 64 * 1024;
const MAX_FILES = 8;

export const PayloadFileName = z.string().regex(/^[a-z][a-z0-9._-]{0,63}$/, "not a plain payload file name");
/** ISO9660 volume ids are short upper/lower-case words; `cidata` is what cloud-init looks for. */
export const PayloadVolId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, "not a volume id");

export const VmPayload = z.object({
  volId: PayloadVolId,
  files: z
    .record(PayloadFileName, z.string().max(MAX_FILE, "payload file longer than 64 KiB").refine((s) => !s.includes("\0"), "NUL byte in payload file"))
    .refine((f) => Object.keys(f).length >= 1 && Object.keys(f).length <= MAX_FILES, { message: `1..${MAX_FILES} payload files` }),
});
export type VmPayload = z.infer<typeof VmPayload>;
