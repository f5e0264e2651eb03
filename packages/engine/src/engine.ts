/**
 * The engine's shared context handed to resources, commands and monitors: configuration, logger,
 * database, node clients, entity locks and background work. Holds no business logic itself.
 */
import type { EngineConfig } from "./config.js";
import type { Db } from "./db/index.js";
import { NodeClients } from "./hosts/client.js";
import type { Logger } from "./log.js";
import type { Pki } from "./pki/ca.js";
import { Directory } from "./users/directory.js";
import { conflict } from "./errors/fault.js";

/**
 * Exclusive in-memory locks on entities (oVirt's "EngineLock"): a command takes the locks of the
 * objects it changes and fails fast with 409 if another command holds one.
 */
export class Locks {
  private held = new Map<string, string>();

  /** Takes all keys or none; returns the release function. */
  acquire(keys: string[], owner: string): () => void {
    for (const k of keys) {
      const by = this.held.get(k);
      if (by) throw conflict(`Cannot ${owner}: related operation is currently in progress (${by}). Please try again later.`);
    }
    for (const k of keys) this.held.set(k, owner);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of keys) if (this.held.get(k) === owner) this.held.delete(k);
    };
  }

  isHeld(key: string): boolean {
    return this.held.has(key);
  }
}

/** Work that outlives the request that started it (task polling, monitors); errors are logged, never lost. */
export class Background {
  private running = new Set<Promise<unknown>>();
  stopping = false;

  constructor(private log: Logger) {}

  run(name: string, fn: () => Promise<unknown>): void {
    const p = fn()
      .catch((err: unknown) => this.log.error({ err, work: name }, "background work failed"))
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Waits for running work, at most `ms`: a node call in flight must not hold up a shutdown. */
  async drain(ms = 3000): Promise<void> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((r) => {
      timer = setTimeout(r, ms);
    });
    await Promise.race([Promise.allSettled([...this.running]), limit]);
    clearTimeout(timer);
  }
}

export interface Engine {
  cfg: EngineConfig;
  log: Logger;
  db: Db;
  nodes: NodeClients;
  /** The engine's CA and certificate; absent when TLS is off (VELA_ENGINE_TLS=off). */
  pki?: Pki;
  locks: Locks;
  bg: Background;
  startedAt: Date;
  /**
   * When a command last changed each VM's runtime state (ms). The VM monitor ignores a report
   * taken before that moment, so a poll racing a start or stop cannot undo it.
   */
  vmTouched: Map<string, number>;
  /** Each host's SPM role as its last getSpmStatus said: spm | contending | none. */
  spmRole: Map<string, "spm" | "contending" | "none">;
  /** The LDAP directory users may also sign in from (VELA_LDAP_*), if one is configured. */
  directory?: Directory;
}

export function createEngine(cfg: EngineConfig, log: Logger, db: Db, pki?: Pki): Engine {
  const tls = pki ? { ca: pki.caPem, cert: pki.cert, key: pki.key } : undefined;
  return {
    cfg,
    log,
    db,
    pki,
    nodes: new NodeClients({ timeoutMs: cfg.nodeCallTimeoutMs, log: log.child({ mod: "node-client" }), tls }),
    locks: new Locks(),
    bg: new Background(log),
    startedAt: new Date(),
    vmTouched: new Map(),
    spmRole: new Map(),
    directory: cfg.directory ? new Directory(cfg.directory) : undefined,
  };
}

/** Resolves after ms, or at once when the engine is stopping. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
