/**
 * Storage decides. A node task that did not end "success" may still have done its work: the
 * operations that only ever roll forward (delete of an image, cold merge) are finished by the
 * SPM that recovers them, after a crash or a lost lease, and that task then ends "cleanSuccess".
 * Before a command puts its records back after such a failure it asks storage what is there.
 */
import type { DataCenter, Host } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { NodeClient } from "../hosts/client.js";
import { spmOf } from "./lookup.js";
import { mustById } from "../db/repo/entities.js";

const ASK_FOR_MS = 30_000;

/**
 * Runs `read` (read-only verbs: any host connected to the pool answers them) on the data
 * center's SPM, else on `fallback` (the host that ran the task), until one gives an answer, for
 * up to 30 s: right after a restart the engine may not know the SPM yet and the host may not be
 * connected to the pool yet. `read` throws when it cannot tell. Undefined when none could.
 */
export async function askStorage<T>(e: Engine, dcId: string, fallback: Host, read: (node: NodeClient, dc: DataCenter) => Promise<T>): Promise<T | undefined> {
  const deadline = Date.now() + ASK_FOR_MS;
  for (;;) {
    const dc = await mustById(e, "data_centers", dcId);
    const spm = await spmOf(e, dc, "ask storage").catch(() => undefined);
    for (const host of spm && spm.id !== fallback.id ? [spm, fallback] : [fallback]) {
      try {
        return await read(e.nodes.for(host), dc);
      } catch (err) {
        e.log.debug({ err, host: host.name }, "storage could not be asked there yet");
      }
    }
    if (Date.now() > deadline) {
      e.log.warn({ dc: dcId }, "could not ask storage what a failed task left");
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Whether the domain lists the image (read through `askStorage`; throws when it cannot tell). */
export async function hasImage(node: NodeClient, sdUUID: string, img: string): Promise<boolean> {
  return (await node.call("getImagesList", { sdUUID })).includes(img);
}
