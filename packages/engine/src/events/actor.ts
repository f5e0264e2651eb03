/**
 * Who is acting: the authenticated user of the API request being served, carried through the
 * request's asynchronous work (AsyncLocalStorage) so that the events of the commands it runs name
 * that user — also when a command finishes later, detached — while monitoring, which runs outside
 * any request, names none.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface Actor {
  id: string;
  /** user@domain, as oVirt writes it in events ("… by admin@internal"). */
  name: string;
}

const store = new AsyncLocalStorage<Actor>();

/** Runs fn as the given user (undefined: nobody). */
export function runAs<T>(actor: Actor | undefined, fn: () => T): T {
  return actor ? store.run(actor, fn) : fn();
}

export function currentActor(): Actor | undefined {
  return store.getStore();
}
