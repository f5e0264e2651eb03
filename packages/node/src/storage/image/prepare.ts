/**
 * Preparing images for use on this host: walk the leaf's chain through the volume metadata,
 * refuse illegal volumes (unless asked), and answer the paths QEMU should open. On file domains
 * there is nothing to activate, so teardown only forgets. Never reads qemu-img here: the
 * metadata chain is the source of truth, and prepare must stay cheap for VM start.
 */
import { BLANK_UUID, VdsmError } from "@vela/protocol";
import { join } from "node:path";
import type { ChainVolume, ImageService, PreparedImage } from "../../api/services.js";
import { asFile, type DomainRegistry, type FileDomain } from "../domain/index.js";
import { BlockDomain } from "../domain/block.js";
import { prepareBlockImage, teardownBlockImage } from "../block/image.js";
import type { Pools } from "../pool/pool.js";
import { IsoFiles } from "./iso.js";
import { checkLiveMerge, type MergeDrive, syncMergedChain } from "./livemerge.js";
import type { StorageDeps } from "../deps.js";
import { chainOf, fmtToImg, LEASE_EXT } from "../volume/volume.js";

export class Images implements ImageService {
  readonly isos: IsoFiles;

  constructor(
    private readonly domains: DomainRegistry,
    private readonly pools: Pools,
  ) {
    this.isos = new IsoFiles(domains);
  }

  checkLiveMerge(d: MergeDrive, base: string, top: string): Promise<void> {
    return checkLiveMerge(this.domains, d, base, top);
  }

  syncMergedChain(d: MergeDrive, base: string, top: string): Promise<void> {
    return syncMergedChain(this.domains, d, base, top);
  }

  isoPath(domainID: string, file: string): Promise<string> {
    return this.isos.path(domainID, file);
  }

  /** Directory QEMU sees: through the pool link when the pool is connected here. */
  private imageDir(dom: FileDomain, spUUID: string, img: string): string {
    if (spUUID !== BLANK_UUID && this.pools.find(spUUID)) return join(this.pools.root, spUUID, dom.sdUUID, "images", img);
    return dom.imageDir(img);
  }

  async prepareVerb(sdUUID: string, spUUID: string, img: string, leaf: string, allowIllegal: boolean) {
    const any = await this.domains.get(sdUUID);
    if (any instanceof BlockDomain) return prepareBlockImage(any, img, leaf, allowIllegal);
    const dom = asFile(any);
    if (!(await dom.hasImage(img))) throw new VdsmError("ImageDoesNotExistInSD", `${img} in ${sdUUID}`);
    const chain = await chainOf(dom, img, leaf);
    for (const { vol, md } of chain) {
      if (md.LEGALITY !== "LEGAL" && !allowIllegal) throw new VdsmError("prepareIllegalVolumeError", vol);
    }
    const dir = this.imageDir(dom, spUUID, img);
    const path = join(dir, leaf);
    const imgVolumesInfo = chain.map(({ vol }) => ({
      domainID: sdUUID,
      imageID: img,
      volumeID: vol,
      path: join(dir, vol),
      leasePath: join(dir, vol + LEASE_EXT),
      leaseOffset: 0,
    }));
    return {
      path,
      info: { type: "file", path, volType: "path" },
      imgVolumesInfo,
      chain,
      dir,
    };
  }

  async prepare(drive: { poolID: string; domainID: string; imageID: string; volumeID: string }): Promise<PreparedImage> {
    const r = await this.prepareVerb(drive.domainID, drive.poolID, drive.imageID, drive.volumeID, false);
    const chain: ChainVolume[] = r.chain.map(({ vol, md }) => ({ volumeID: vol, path: join(r.dir, vol), format: fmtToImg(md.FORMAT) }));
    return { path: r.path, format: chain[0].format, chain };
  }

  async teardown(drive: { poolID: string; domainID: string; imageID: string; volumeID: string }): Promise<void> {
    // File volumes need no deactivation; block volumes free their devices.
    const dom = await this.domains.find(drive.domainID);
    if (dom instanceof BlockDomain) await teardownBlockImage(dom, drive.imageID, drive.volumeID);
  }
}

/**
 * The image service VMs use, with prepare and teardown under the image's shared lock, as the
 * prepareImage/teardownImage verbs take it: a VM start then never prepares an image while an
 * exclusive operation (delete, merge, move) is changing it. This is the one prepare path for VM
 * images; the engine does not prepare them before `create`.
 */
export function underImageLock(base: ImageService, lock: Pick<StorageDeps, "withImageLock">): ImageService {
  return {
    ...base,
    prepare: (d) => lock.withImageLock(d.domainID, d.imageID, "shared", () => base.prepare(d)),
    teardown: (d) => lock.withImageLock(d.domainID, d.imageID, "shared", () => base.teardown(d)),
  };
}
