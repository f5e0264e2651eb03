/** Schemas reused by several verb groups. */
import { z } from "zod";
import { Uuid } from "../schemas.js";

export const PoolId = Uuid;
export const DomainId = Uuid;
export const ImageId = Uuid;
export const VolumeId = Uuid;
export const TaskId = Uuid;

/** XML-RPC clients often send ints as strings; accept both for small integers. */
export const Int = z
  .union([z.number().int(), z.string().regex(/^-?[0-9]+$/)])
  .transform((v) => Number(v));

export const Bool = z.union([z.boolean(), z.enum(["true", "false"])]).transform((v) => v === true || v === "true");

/**
 * Result shapes used by several verb groups. Objects are loose: a node may add members (VDSM's
 * answers grew over time), and the engine reads only the members named here.
 */
/** A task id (or any UUID) as a node answers it. */
export const UuidString = z.string();
/** VDSM's task status (Task.getStatus, Host.getAllTasksStatuses). */
export const TaskStatus = z.looseObject({
  taskID: z.string(),
  /** init, running, finished, aborting, cleaning, unknown… (VDSM's deprecated task states). */
  taskState: z.string(),
  /** success, cleanSuccess, failure or "" while the task runs. */
  taskResult: z.string(),
  code: z.number(),
  message: z.string(),
});
export type TaskStatus = z.infer<typeof TaskStatus>;
/** VDSM's {id, verb} with Vela's progress (0..100). */
export const TaskInfo = z.looseObject({ id: z.string(), verb: z.string(), progress: z.number() });
export type TaskInfo = z.infer<typeof TaskInfo>;
/** A list of ids (images, volumes, domains). */
export const IdList = z.array(z.string());
