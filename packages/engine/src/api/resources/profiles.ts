/**
 * Read-only collections oVirt clients read about clusters and storage: CPU profiles (one default
 * per cluster), disk profiles (one default per storage domain), the predefined scheduling
 * policies and the units of Vela's scheduler, and storage connections (each domain's connection as handed to connectStorageServer:
 * its path, or for a block domain its LUN). All are derived from the clusters' and domains' own
 * rows (ids in db/ids.ts), so they appear and go with their owners. Unknown ids are 404 faults.
 */
import { defaultProfileId } from "../../db/ids.js";
import { mustById } from "../../db/repo/entities.js";
import type { Cluster, StorageDomain } from "../../db/schema.js";
import { notFound } from "../../errors/fault.js";
import { type Call, ok, pathId, type Reply } from "../call.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";
import { cpuProfileView, diskProfileView, SCHEDULING_POLICIES, schedulingPolicyUnitView, schedulingPolicyView, storageConnectionView } from "../views.js";
import { POLICY_UNITS } from "../../scheduling/units.js";

async function clusters(c: Call): Promise<Cluster[]> {
  return c.engine.db.selectFrom("clusters").selectAll().orderBy("name").execute();
}

async function domains(c: Call): Promise<StorageDomain[]> {
  return c.engine.db.selectFrom("storage_domains").selectAll().orderBy("name").execute();
}

function search<T>(c: Call, rows: T[], name: (r: T) => string, id: (r: T) => string): T[] {
  return applySearch(rows, c.query, { name, id });
}

export async function cpuProfiles(c: Call): Promise<Reply> {
  const rows = search(c, await clusters(c), (r) => r.name, (r) => defaultProfileId("cpu", r.id));
  return ok("cpu_profiles", collection("cpu_profile", rows.map((r) => cpuProfileView(r))));
}

async function clusterOfProfile(c: Call, param: string): Promise<Cluster> {
  const id = pathId(c, param, "CpuProfile");
  const found = (await clusters(c)).find((r) => defaultProfileId("cpu", r.id) === id);
  if (!found) throw notFound("CpuProfile", id);
  return found;
}

export async function cpuProfile(c: Call): Promise<Reply> {
  return ok("cpu_profile", cpuProfileView(await clusterOfProfile(c, "id")));
}

export async function clusterCpuProfiles(c: Call): Promise<Reply> {
  const cl = await mustById(c.engine, "clusters", pathId(c, "id", "Cluster"));
  return ok("cpu_profiles", collection("cpu_profile", search(c, [cl], (r) => r.name, (r) => defaultProfileId("cpu", r.id)).map((r) => cpuProfileView(r, true))));
}

export async function clusterCpuProfile(c: Call): Promise<Reply> {
  const cl = await mustById(c.engine, "clusters", pathId(c, "id", "Cluster"));
  const id = pathId(c, "profile", "CpuProfile");
  if (defaultProfileId("cpu", cl.id) !== id) throw notFound("CpuProfile", id);
  return ok("cpu_profile", cpuProfileView(cl, true));
}

export async function diskProfiles(c: Call): Promise<Reply> {
  const rows = search(c, await domains(c), (r) => r.name, (r) => defaultProfileId("disk", r.id));
  return ok("disk_profiles", collection("disk_profile", rows.map((r) => diskProfileView(r))));
}

async function domainOfProfile(c: Call, param: string): Promise<StorageDomain> {
  const id = pathId(c, param, "DiskProfile");
  const found = (await domains(c)).find((r) => defaultProfileId("disk", r.id) === id);
  if (!found) throw notFound("DiskProfile", id);
  return found;
}

export async function diskProfile(c: Call): Promise<Reply> {
  return ok("disk_profile", diskProfileView(await domainOfProfile(c, "id")));
}

export async function domainDiskProfiles(c: Call): Promise<Reply> {
  const sd = await mustById(c.engine, "storage_domains", pathId(c, "id", "StorageDomain"));
  return ok("disk_profiles", collection("disk_profile", search(c, [sd], (r) => r.name, (r) => defaultProfileId("disk", r.id)).map((r) => diskProfileView(r, true))));
}

export async function domainDiskProfile(c: Call): Promise<Reply> {
  const sd = await mustById(c.engine, "storage_domains", pathId(c, "id", "StorageDomain"));
  const id = pathId(c, "profile", "DiskProfile");
  if (defaultProfileId("disk", sd.id) !== id) throw notFound("DiskProfile", id);
  return ok("disk_profile", diskProfileView(sd, true));
}

export async function schedulingPolicies(c: Call): Promise<Reply> {
  const rows = search(c, [...SCHEDULING_POLICIES], (r) => r.name, (r) => r.id);
  return ok("scheduling_policies", collection("scheduling_policy", rows.map(schedulingPolicyView)));
}

export async function schedulingPolicy(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "SchedulingPolicy");
  const p = SCHEDULING_POLICIES.find((x) => x.id === id);
  if (!p) throw notFound("SchedulingPolicy", id);
  return ok("scheduling_policy", schedulingPolicyView(p));
}

export async function schedulingPolicyUnits(c: Call): Promise<Reply> {
  const rows = search(c, [...POLICY_UNITS], (r) => r.name, (r) => r.id);
  return ok("scheduling_policy_units", collection("scheduling_policy_unit", rows.map(schedulingPolicyUnitView)));
}

export async function schedulingPolicyUnit(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "SchedulingPolicyUnit");
  const u = POLICY_UNITS.find((x) => x.id === id);
  if (!u) throw notFound("SchedulingPolicyUnit", id);
  return ok("scheduling_policy_unit", schedulingPolicyUnitView(u));
}

export async function storageConnections(c: Call): Promise<Reply> {
  const rows = search(c, await domains(c), (r) => r.storage_address || r.storage_path, (r) => r.connection_id);
  return ok("storage_connections", collection("storage_connection", rows.map(storageConnectionView)));
}

export async function storageConnection(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "StorageServerConnection");
  const sd = (await domains(c)).find((r) => r.connection_id === id);
  if (!sd) throw notFound("StorageServerConnection", id);
  return ok("storage_connection", storageConnectionView(sd));
}

