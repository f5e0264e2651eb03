/**
 * Vela's test kit: the helpers every process test needs, whatever it spawns (engine, nodes, a
 * cluster), kept once here instead of copied between the engine's, the node's and the integration
 * tests' support files. Test code only: no package ships it, and it imports neither the engine nor
 * the node (both sides' tests use it, and they share only the protocol).
 */
export { freePort } from "./ports.js";
export { tempDir } from "./tmp.js";
export { sleep, until, withTimeout } from "./wait.js";
