/** Host-level verbs: capabilities, statistics, tasks of the whole host. */
import { p, verb } from "../verb.js";
import { z } from "zod";

export const hostVerbs = {
  getVdsCapabilities: verb("getVdsCapabilities", "Host.getCapabilities", [], "info"),
  getVdsStats: verb("getVdsStats", "Host.getStats", [], "info"),
  ping: verb("ping", "Host.ping", []),
  getAllTasksStatuses: verb("getAllTasksStatuses", "Host.getAllTasksStatuses", [], "allTasksStatus"),
  getAllTasksInfo: verb("getAllTasksInfo", "Host.getAllTasksInfo", [], "allTasksInfo"),
  /** Test and operator aid: which verbs this node serves. */
  getVerbs: verb("getVerbs", "Host.getVerbs", [p("filter", z.string().max(64).optional())], "verbs"),
} as const;
