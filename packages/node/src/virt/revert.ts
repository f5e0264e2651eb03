/**
 * A revert stack for multi-step operations: each step pushes its undo; on failure the undos run
 * newest first; on success they are dropped. An undo that fails is logged and the others still
 * run — a failed cleanup must never hide the error that caused it.
 */
import type { Logger } from "../log.js";

export class Revert {
  private undos: { what: string; fn: () => Promise<void> | void }[] = [];

  constructor(private readonly log: Logger) {}

  push(what: string, fn: () => Promise<void> | void): void {
    this.undos.push({ what, fn });
  }

  success(): void {
    this.undos = [];
  }

  async fail(): Promise<void> {
    const undos = this.undos.reverse();
    this.undos = [];
    for (const u of undos) {
      try {
        await u.fn();
      } catch (e) {
        this.log.warn({ undo: u.what, err: String(e) }, "revert step failed");
      }
    }
  }
}
