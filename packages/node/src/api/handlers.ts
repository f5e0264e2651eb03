/**
 * Assembles the verb implementations of storage/, virt/ and host/ into one table. A verb that no
 * module implements answers VDSM's "Method not implemented" (code 44) rather than crashing.
 */
import { type Handlers, type VerbName, VdsmError, verbs } from "@vela/protocol";

export type PartialHandlers = Partial<Handlers>;

export function assemble(...parts: PartialHandlers[]): Handlers {
  const merged: PartialHandlers = {};
  for (const part of parts) {
    for (const [name, fn] of Object.entries(part) as [VerbName, Handlers[VerbName]][]) {
      if (merged[name]) throw new Error(`verb ${name} implemented twice`);
      (merged as Record<string, unknown>)[name] = fn;
    }
  }
  const all = {} as Record<VerbName, unknown>;
  for (const name of Object.keys(verbs) as VerbName[]) {
    all[name] =
      merged[name] ??
      (async () => {
        throw new VdsmError("noimpl", name);
      });
  }
  return all as Handlers;
}
