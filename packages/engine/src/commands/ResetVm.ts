/** `reset`: a hard reset of the running VM (QMP system_reset on its host). */
import { oneVerb } from "./runningVm.js";

export const ResetVm = oneVerb("reset VM", "reset", "reset");
