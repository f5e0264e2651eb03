/**
 * The image verbs on block domains: the same verbs as hsm-images.ts answers for file domains,
 * routed here when the domain is a block one (everything else falls through to the file
 * handlers unchanged). Same rules: validate before a task starts, SPM only, persisted tasks.
 */
import { VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../../api/handlers.js";
import { BlockDomain } from "../domain/block.js";
import type { StorageDomain } from "../domain/driver.js";
import type { ConnectedPool } from "../pool.js";
import type { Task } from "../task/task.js";
import { deleteBlockImageJob } from "./volume.js";

export interface BlockImageDeps {
  spmOf(spUUID: string): ConnectedPool;
  poolAnyDomain(sdUUID: string, spUUID: string): Promise<{ dom: StorageDomain; md: Record<string, string> }>;
  startTask(name: string, job: (t: Task) => Promise<unknown>, persistent?: boolean): string;
  withImageLock<T>(sd: string, img: string, mode: "shared" | "exclusive", fn: () => Promise<T>): Promise<T>;
}

export function blockImageHandlers(d: BlockImageDeps, file: PartialHandlers): PartialHandlers {
  return {
    deleteImage: async (a) => {
      d.spmOf(a.spUUID);
      const { dom } = await d.poolAnyDomain(a.sdUUID, a.spUUID);
      if (!(dom instanceof BlockDomain)) {
        if (!file.deleteImage) throw new VdsmError("StorageDomainTypeError", a.sdUUID);
        return file.deleteImage(a);
      }
      if (!(await dom.hasImage(a.imgUUID))) throw new VdsmError("ImageDoesNotExistInSD", `${a.imgUUID} in ${a.sdUUID}`);
      return {
        uuid: d.startTask("deleteImage", (t) =>
          d.withImageLock(a.sdUUID, a.imgUUID, "exclusive", async () => {
            d.spmOf(a.spUUID);
            await deleteBlockImageJob(t, dom, a.imgUUID);
          }),
        ),
      };
    },
  };
}
