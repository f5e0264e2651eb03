/** Virt subsystem (placeholder while the real one is written): no verbs yet. */
import type { NodeContext } from "../api/context.js";
import type { ImageService, Subsystem } from "../api/services.js";

export async function createVirt(_ctx: NodeContext, _images: ImageService): Promise<Subsystem> {
  return { handlers: {}, close: async () => {} };
}
