/** Host-level verbs: capabilities, statistics, tasks of the whole host. */
import { z } from "zod";
import { done, out, p, verb } from "../verb.js";
import { TaskInfo, TaskStatus } from "./common.js";

/** getVdsCapabilities: what the host is (VDSM's caps; numbers as strings, as VDSM sent them). */
export const HostCapabilities = z.looseObject({
  uuid: z.string(),
  hostName: z.string(),
  software_version: z.string(),
  cpuCores: z.string(),
  cpuModel: z.string(),
  memSize: z.string(),
  kvmEnabled: z.string(),
});
export type HostCapabilities = z.infer<typeof HostCapabilities>;

/** One storage domain's health as the node's domain monitor last saw it. */
export const DomainHealth = z.looseObject({
  code: z.number(),
  valid: z.boolean(),
  /** Seconds since the last check, e.g. "1.2". */
  lastCheck: z.string(),
  /** Seconds the last metadata read took, e.g. "0.000412". */
  delay: z.string(),
});
export type DomainHealth = z.infer<typeof DomainHealth>;

/** getVdsStats: load and memory (strings, as VDSM), and the monitored domains' health. */
export const HostStats = z.looseObject({
  cpuUser: z.string(),
  cpuSys: z.string(),
  cpuIdle: z.string(),
  cpuLoad: z.string(),
  memFree: z.string(),
  memUsed: z.string(),
  elapsedTime: z.string(),
  /** Per domain id; absent on a node without the storage subsystem. */
  storageDomains: z.record(z.string(), DomainHealth).optional(),
});
export type HostStats = z.infer<typeof HostStats>;

/** getVerbs: the verbs a node serves. */
export const VerbListing = z.array(z.object({ xml: z.string(), json: z.string(), params: z.array(z.string()) }));

export const hostVerbs = {
  getVdsCapabilities: verb("getVdsCapabilities", "Host.getCapabilities", [], out("info", HostCapabilities)),
  getVdsStats: verb("getVdsStats", "Host.getStats", [], out("info", HostStats)),
  ping: verb("ping", "Host.ping", [], done),
  getAllTasksStatuses: verb("getAllTasksStatuses", "Host.getAllTasksStatuses", [], out("allTasksStatus", z.record(z.string(), TaskStatus))),
  getAllTasksInfo: verb("getAllTasksInfo", "Host.getAllTasksInfo", [], out("allTasksInfo", z.record(z.string(), TaskInfo))),
  /** Test and operator aid: which verbs this node serves. */
  getVerbs: verb("getVerbs", "Host.getVerbs", [p("filter", z.string().max(64).optional())], out("verbs", VerbListing)),
  /**
   * Certificate renewal (oVirt's enrollcertificate; Vela's own verbs, VDSM has none): the node
   * makes a new key beside the one it serves with and answers a request (PEM CSR) for it; the
   * engine signs it and hands the certificate to `installCertificate`, which the node accepts only
   * for that new key and its engine CA, then serves with at once (running VMs are untouched).
   */
  certificateRequest: verb("certificateRequest", "Host.certificateRequest", [], out("csr", z.string().max(16_384))),
  installCertificate: verb("installCertificate", "Host.installCertificate", [p("certificate", z.string().min(1).max(16_384))], done),
} as const;
