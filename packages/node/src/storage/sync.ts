/**
 * In-process synchronisation for the storage code: a mutex, a keyed shared/exclusive lock (image
 * locks), and a bounded worker pool (so a burst of tasks cannot start 100 qemu-img at once).
 * Only orders this process's own work; cross-host exclusion is the SPM lease's job.
 */

export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => {});
    return next;
  }
}

interface Waiter {
  mode: "shared" | "exclusive";
  wake: () => void;
}

/** One shared/exclusive lock per key; FIFO so an exclusive waiter is not starved. */
export class KeyedRwLock {
  private readonly held = new Map<string, { mode: "shared" | "exclusive"; count: number; queue: Waiter[] }>();

  async acquire(key: string, mode: "shared" | "exclusive"): Promise<() => void> {
    let e = this.held.get(key);
    if (!e) {
      e = { mode, count: 0, queue: [] };
      this.held.set(key, e);
    }
    const entry = e;
    const grantable = entry.count === 0 || (mode === "shared" && entry.mode === "shared" && entry.queue.length === 0);
    if (grantable) {
      entry.mode = mode;
      entry.count++;
    } else {
      await new Promise<void>((wake) => entry.queue.push({ mode, wake }));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.count--;
      if (entry.count === 0) this.grantNext(key, entry);
    };
  }

  private grantNext(key: string, entry: { mode: "shared" | "exclusive"; count: number; queue: Waiter[] }): void {
    const first = entry.queue.shift();
    if (!first) {
      this.held.delete(key);
      return;
    }
    entry.mode = first.mode;
    entry.count = 1;
    first.wake();
    if (first.mode === "shared") {
      while (entry.queue[0]?.mode === "shared") {
        entry.count++;
        entry.queue.shift()!.wake();
      }
    }
  }
}

/** Runs at most `size` jobs at once; the rest wait in FIFO order. */
export class WorkerPool {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing job hands its slot straight to the next waiter, so a newcomer cannot overtake.
    if (this.running >= this.size) await new Promise<void>((r) => this.queue.push(r));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }
}
