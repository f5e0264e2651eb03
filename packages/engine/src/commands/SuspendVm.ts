/**
 * `suspend`: pauses the VM in QEMU. Its memory stays in the host, so the VM is `paused`, not
 * hibernated to storage.
 */
import { oneVerb } from "./runningVm.js";

export const SuspendVm = oneVerb("suspend VM", "suspend", "pause", "paused", ["up", "powering_up", "reboot_in_progress"]);
