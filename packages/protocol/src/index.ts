/** @vela/protocol: what engine and node share — ids, errors, the verb table, the revert stack. No I/O. */
export * from "./ids.js";
export * from "./schemas.js";
export * from "./errors.js";
export * from "./verb.js";
export * from "./verbs/index.js";
export * from "./validate.js";
export * from "./conf.js";
export * from "./volume-rules.js";
export * from "./limits.js";
export * from "./revert.js";
