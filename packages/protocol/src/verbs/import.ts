/**
 * Vela's image import verb (in the place of VDSM's imageio upload): the node copies an image file
 * that lies in a directory its operator allowed (VELA_NODE_IMPORT_DIRS) into an existing,
 * single-volume image, converting to the volume's format. The volume was made through the SPM
 * (createVolume); the copy only writes its data, as an upload through imageio would.
 */
import { z } from "zod";
import { done, p, verb } from "../verb.js";
import { DomainId, ImageId, PoolId, VolumeId } from "./common.js";
import { AbsPath } from "./vm.js";

export const importVerbs = {
  importImageFile: verb(
    "importImageFile",
    "Image.importFile",
    [
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("volUUID", VolumeId, "volumeID"),
      p("path", AbsPath, "path"),
      p("format", z.enum(["qcow2", "raw"]), "format"),
    ],
    done,
  ),
} as const;
