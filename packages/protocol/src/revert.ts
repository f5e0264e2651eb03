/**
 * The one revert stack of a multi-step operation, used by the engine's commands and by the node's
 * VM launch: each step that changed something pushes its undo; on success the undos are dropped,
 * on failure they run newest first, each once. An undo that fails is reported (through the
 * owner's callback, which logs it) and the others still run — a failed cleanup must never hide
 * the error that caused it. No I/O and no imports: the engine loads it as `@vela/protocol/revert`.
 * A storage task keeps the same stack in persisted form (`PersistedUndo`, below).
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

/**
 * An undo in the form one process persists and another replays: a storage task's recovery stack
 * on the master domain, which a new SPM rolls back after a crash. Instead of a closure it names a
 * registered action and its string params. The stack reads as a Revert's — each undo pushed (and
 * written) before the change it covers, replayed newest first — with one difference that
 * persistence needs: a replay stops at the first undo that fails and keeps it and the older ones,
 * so a later recovery (the next SPM, revertTask) finishes them in order.
 */
export interface PersistedUndo {
  /** What it undoes, for logs (as Undo's). */
  readonly what: string;
  /** A registered action name, e.g. "volume.removeFiles"; persisted, so never renamed. */
  readonly action: string;
  readonly params: readonly string[];
}
