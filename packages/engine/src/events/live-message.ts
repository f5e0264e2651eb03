/**
 * The messages of the engine's live feed as they go over the wire (the event stream's `data:`
 * lines, events/stream.ts). Types only, with no imports: the portal reads the same declarations
 * (its lib/live.ts imports this file), so the two sides cannot drift apart.
 */

/** An audit-log event as `/events` shows it, with the ids of the objects it concerns. */
export interface LiveEvent {
  type: "event";
  id: number;
  code: number;
  severity: string;
  description: string;
  time: string;
  vm?: string;
  host?: string;
  storage_domain?: string;
  data_center?: string;
  cluster?: string;
}

/** A job (or one of its steps) changed: started, progressed, ended. */
export interface LiveJob {
  type: "job";
  id: string;
  status?: string;
  /** 0..100, the step's progress, when a step reported one. */
  progress?: number;
}

export type LiveMessage = LiveEvent | LiveJob;
