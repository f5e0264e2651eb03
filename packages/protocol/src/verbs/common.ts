/** Schemas reused by several verb groups. */
import { z } from "zod";
import { Uuid } from "../ids.js";

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
