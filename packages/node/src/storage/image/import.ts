/**
 * importImageFile: copies an image file the operator put in an allowed directory
 * (VELA_NODE_IMPORT_DIRS) into an existing single-volume image — Vela's stand-in for an imageio
 * upload, used by `vela up` to fill the `tiny` template's disk. The source must be a regular file
 * inside an allowed directory after resolving symlinks, of the declared format, without a backing
 * file (a qcow2 header could otherwise make qemu-img read any host file), and no larger than the
 * volume. The target volume must be a LEGAL leaf with no parent and is written under the image's
 * exclusive lock; nothing else about it changes (its metadata was made through the SPM).
 */
import { realpath, stat } from "node:fs/promises";
import { sep } from "node:path";
import { VdsmError } from "@vela/protocol";
import type { NodeContext } from "../../api/context.js";
import type { PartialHandlers } from "../../api/handlers.js";
import { CommandError, run } from "../../exec.js";
import type { DomainRegistry } from "../domain/index.js";
import type { Images } from "./prepare.js";
import * as qemuimg from "../volume/qemuimg.js";
import * as vol from "../volume/volume.js";

type WithImageLock = <T>(sd: string, img: string, mode: "shared" | "exclusive", fn: () => Promise<T>) => Promise<T>;

/** The real path of `path` if it is a regular file inside one of `dirs`. */
export async function allowedImportFile(path: string, dirs: readonly string[]): Promise<string> {
  if (dirs.length === 0) throw new VdsmError("InvalidParameter", `${path}: no import directories are allowed on this host (VELA_NODE_IMPORT_DIRS)`);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw new VdsmError("InvalidParameter", `image file ${path} does not exist`);
  }
  for (const dir of dirs) {
    const realDir = await realpath(dir).catch(() => undefined);
    if (realDir === undefined) continue;
    if (real.startsWith(realDir.endsWith(sep) ? realDir : realDir + sep)) {
      if (!(await stat(real)).isFile()) throw new VdsmError("InvalidParameter", `image file ${path} is not a regular file`);
      return real;
    }
  }
  throw new VdsmError("InvalidParameter", `image file ${path} is not inside an allowed import directory (${dirs.join(":")})`);
}

async function checkedSource(ctx: NodeContext, path: string, format: qemuimg.ImgFormat): Promise<qemuimg.ImgInfo> {
  let info: qemuimg.ImgInfo;
  try {
    info = await qemuimg.info(ctx.log, path, format);
  } catch (e) {
    const msg = e instanceof CommandError ? e.stderr.trim() : (e as Error).message;
    throw new VdsmError("IncorrectFormat", `image file ${path} is not a ${format} image: ${msg.slice(0, 300)}`);
  }
  if (info["backing-filename"] !== undefined) throw new VdsmError("IncorrectFormat", `image file ${path} has a backing file; import a standalone image`);
  return info;
}

export function importHandlers(d: { ctx: NodeContext; domains: DomainRegistry; images: Images; withImageLock: WithImageLock }): PartialHandlers {
  return {
    importImageFile: async ({ sdUUID, spUUID, imgUUID, volUUID, path, format }) => {
      const src = await allowedImportFile(path, d.ctx.config.importDirs);
      const info = await checkedSource(d.ctx, src, format);
      return d.withImageLock(sdUUID, imgUUID, "exclusive", async () => {
        const dom = await d.domains.get(sdUUID);
        if (!(await dom.hasImage(imgUUID))) throw new VdsmError("ImageDoesNotExistInSD", `${imgUUID} in ${sdUUID}`);
        const vols = await vol.imageVolumes(dom, imgUUID);
        const md = vols.get(volUUID);
        if (!md) throw new VdsmError("VolumeDoesNotExist", volUUID);
        if (vols.size !== 1 || md.VOLTYPE !== "LEAF") throw new VdsmError("VolumeImageHasChildren", `image ${imgUUID} must hold exactly one leaf volume to import into`);
        if (md.LEGALITY !== "LEGAL") throw new VdsmError("prepareIllegalVolumeError", volUUID);
        if (info["virtual-size"] > md.CAP) {
          throw new VdsmError("VolumeResizeValueError", `image file ${path} is ${info["virtual-size"]} bytes, larger than volume ${volUUID} (${md.CAP} bytes)`);
        }
        const target = await d.images.prepareVerb(sdUUID, spUUID, imgUUID, volUUID, false);
        const dstFormat = vol.fmtToImg(md.FORMAT);
        d.ctx.log.info({ sdUUID, imgUUID, volUUID, src, format, dstFormat }, "importing image file");
        try {
          // -n: the volume exists (made by the SPM); writeback cache, flushed before exit
          await run(["qemu-img", "convert", "-n", "-t", "writeback", "-T", "writeback", "-f", format, "-O", dstFormat, src, target.path], {
            log: d.ctx.log,
            timeoutMs: 3600_000,
          });
        } catch (e) {
          const msg = e instanceof CommandError ? e.stderr.trim() : (e as Error).message;
          throw new VdsmError("VolumeCopyError", `cannot import ${path}: ${msg.slice(0, 500)}`);
        }
        return {};
      });
    },
  };
}
