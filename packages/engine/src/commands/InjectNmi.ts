/** Injects an NMI into the running VM (a kernel debugging aid: guests dump or panic on it). */
import { oneVerb } from "./runningVm.js";

export const InjectNmi = oneVerb("inject NMI into VM", "inject an NMI into", "injectNmi");
