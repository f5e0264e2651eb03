/** Resumes a paused (or suspended) VM: QEMU `cont` on its host. */
import { oneVerb } from "./runningVm.js";

export const ResumeVm = oneVerb("resume VM", "resume", "cont", "up", ["paused", "suspended"]);
