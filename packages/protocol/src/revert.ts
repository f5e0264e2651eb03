/**
 * The one revert stack of a multi-step operation, used by the engine's commands and by the node's
 * VM launch: each step that changed something pushes its undo; on success the undos are dropped,
 * on failure they run newest first, each once. An undo that fails is reported (through the
 * owner's callback, which logs it) and the others still run — a failed cleanup must never hide
 * the error that caused it. No I/O and no imports: the engine loads it as `@vela/protocol/revert`.
 */

/** One undo: what it undoes (for logs) and how. */
export interface Undo {
  readonly what: string;
  readonly fn: () => unknown;
}

export class Revert {
  private undos: Undo[] = [];

  /** `onUndoFailed` hears of each undo that threw (its description and the error). */
  constructor(private readonly onUndoFailed: (what: string, err: unknown) => void) {}

  push(what: string, fn: () => unknown): void {
    this.undos.push({ what, fn });
  }

  /** What a failure now would undo, newest first. */
  get pending(): string[] {
    return this.undos.map((u) => u.what).reverse();
  }

  /** The operation succeeded: nothing is to be undone. */
  success(): void {
    this.undos = [];
  }

  /** The operation failed: runs the undos newest first, then forgets them. */
  async run(): Promise<void> {
    const undos = this.undos.reverse();
    this.undos = [];
    for (const u of undos) {
      try {
        await u.fn();
      } catch (err) {
        this.onUndoFailed(u.what, err);
      }
    }
  }
}
