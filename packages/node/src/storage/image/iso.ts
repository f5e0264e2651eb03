/**
 * ISO files of a file domain, for VMs' CD-ROM drives: they lie in the domain's fixed ISO directory
 * (`images/11111111-1111-1111-1111-111111111111/`, where VDSM's ISO domains keep them; an
 * administrator copies them there, as onto an oVirt ISO domain's export). A file counts only if it
 * is a regular file (not a symlink, which could point anywhere) carrying the ISO9660 signature
 * `CD001` at byte 32769 — anything else is refused. Names were checked by the verb table (plain
 * names, no slash), so joining them to the directory cannot leave it.
 */
import { lstat, open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { type FileStat, ISO_IMAGE_UUID, VdsmError } from "@vela/protocol";
import type { DomainRegistry } from "../domain/index.js";
import { errno } from "../fileutil.js";

/** ISO9660's primary volume descriptor starts at sector 16 (2048-byte sectors): type byte, then "CD001". */
const ISO_MAGIC_OFFSET = 16 * 2048 + 1;
const ISO_MAGIC = Buffer.from("CD001", "ascii");
/** VDSM's fileStats status of a readable file. */
const FILE_OK = 0;

async function isIsoImage(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(ISO_MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, ISO_MAGIC_OFFSET);
    return bytesRead === buf.length && buf.equals(ISO_MAGIC);
  } finally {
    await fh.close();
  }
}

export class IsoFiles {
  constructor(private readonly domains: DomainRegistry) {}

  private async dir(sdUUID: string): Promise<string> {
    const dom = await this.domains.getFile(sdUUID);
    return dom.imageDir(ISO_IMAGE_UUID);
  }

  /** The path of an ISO file of the domain, or changeDisk when it is missing or not an ISO image. */
  async path(sdUUID: string, file: string): Promise<string> {
    const path = join(await this.dir(sdUUID), file);
    const st = await lstat(path).catch((e: unknown) => {
      if (errno(e) === "ENOENT") throw new VdsmError("changeDisk", `no ISO file ${file} in domain ${sdUUID}`);
      throw e;
    });
    if (!st.isFile()) throw new VdsmError("changeDisk", `${file} in domain ${sdUUID} is not a regular file`);
    if (!(await isIsoImage(path))) throw new VdsmError("changeDisk", `${file} in domain ${sdUUID} is not an ISO9660 image`);
    return path;
  }

  /** VDSM's getFileStats: every ISO image of the domain's ISO directory. */
  async stats(sdUUID: string): Promise<Record<string, FileStat>> {
    const dir = await this.dir(sdUUID);
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      if (errno(e) === "ENOENT") return {};
      throw e;
    }
    const out: Record<string, FileStat> = {};
    for (const name of names) {
      const path = join(dir, name);
      const st = await lstat(path).catch(() => undefined);
      if (!st?.isFile() || !(await isIsoImage(path).catch(() => false))) continue;
      out[name] = { status: FILE_OK, ctime: String(Math.floor(st.ctimeMs / 1000)), size: String(st.size) };
    }
    return out;
  }
}
