/** What every handler module receives: configuration, logger, and the faults switch. */
import type { NodeConfig } from "../config.js";
import type { Logger } from "../log.js";

export interface NodeContext {
  config: NodeConfig;
  log: Logger;
  /**
   * Test-only fault injection: when the named point is enabled through VELA_TEST_FAULTS, the
   * process dies at once (kill -9 semantics: no cleanup, no flush), so crash recovery can be
   * proven step by step.
   */
  fault(point: string): void;
}
