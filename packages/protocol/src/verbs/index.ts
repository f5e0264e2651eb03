/** The verb table: every node verb, once. Transports and the engine's client are built from it. */
import type { HandlerResult, ParamsOf, VerbDef } from "../verb.js";
import { blockVerbs } from "./block.js";
import { consoleVerbs } from "./console.js";
import { hostVerbs } from "./host.js";
import { importVerbs } from "./import.js";
import { networkVerbs } from "./network.js";
import { storageVerbs } from "./storage.js";
import { transferVerbs } from "./transfer.js";
import { vmVerbs } from "./vm.js";

export const verbs = { ...hostVerbs, ...storageVerbs, ...blockVerbs, ...vmVerbs, ...consoleVerbs, ...importVerbs, ...transferVerbs, ...networkVerbs } as const;
export type Verbs = typeof verbs;
export type VerbName = keyof Verbs;

/** One implementation per verb; the node's api layer fills this from storage/, virt/ and host/. */
export type Handlers = {
  [K in VerbName]: (params: ParamsOf<Verbs[K]>) => Promise<HandlerResult<Verbs[K]>>;
};

/** Lookup by XML-RPC name and by JSON-RPC name. */
export const byXmlName: ReadonlyMap<string, [VerbName, VerbDef]> = new Map(
  (Object.entries(verbs) as [VerbName, VerbDef][]).map(([k, v]) => [v.xml, [k, v]]),
);
export const byJsonName: ReadonlyMap<string, [VerbName, VerbDef]> = new Map(
  (Object.entries(verbs) as [VerbName, VerbDef][]).map(([k, v]) => [v.json, [k, v]]),
);

export * from "./common.js";
export * from "./console.js";
export * from "./payload.js";
export * from "./storage.js";
export * from "./block.js";
export * from "./vm.js";
export * from "./network.js";
export * from "./host.js";
export * from "./transfer.js";
