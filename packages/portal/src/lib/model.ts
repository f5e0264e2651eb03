/**
 * The shapes the portal reads from the API's JSON (oVirt v4: numbers and booleans arrive as
 * strings, references as `{id, href}`). Only the members the pages show; everything optional
 * that the engine may leave out.
 */

export interface Ref {
  id: string;
  href?: string;
}

export interface Vm {
  id: string;
  name: string;
  status: string;
  memory?: string;
  description?: string;
  start_time?: string;
  host?: Ref;
  cluster?: Ref;
  template?: Ref;
}

export interface Host {
  id: string;
  name: string;
  address?: string;
  status: string;
  status_detail?: string;
  memory?: string;
  spm?: { status?: string };
  cluster?: Ref;
  cpu?: { name?: string; topology?: { cores?: string; sockets?: string; threads?: string } };
}

export interface StorageDomain {
  id: string;
  name: string;
  type?: string;
  status?: string;
  external_status?: string;
  master?: string;
  available?: string;
  used?: string;
  committed?: string;
  storage?: { type?: string; path?: string; address?: string };
  data_centers?: { data_center?: Ref[] };
}

export interface Disk {
  id: string;
  alias?: string;
  name?: string;
  status?: string;
  format?: string;
  sparse?: string;
  provisioned_size?: string;
  actual_size?: string;
  storage_domains?: { storage_domain?: Ref[] };
}

export interface Network {
  id: string;
  name: string;
  description?: string;
  mtu?: string;
  vlan?: { id?: string };
  usages?: { usage?: string[] };
  data_center?: Ref;
}

export interface Named {
  id: string;
  name: string;
  description?: string;
}

export interface Job {
  id: string;
  description?: string;
  status: string;
  start_time?: string;
  end_time?: string;
  last_updated?: string;
}

export interface Step {
  id: string;
  description?: string;
  status?: string;
  progress?: string;
}

export interface Event {
  id: string;
  time?: string;
  severity?: string;
  description?: string;
  code?: string;
}

export interface Snapshot {
  id: string;
  description?: string;
  date?: string;
  snapshot_status?: string;
  snapshot_type?: string;
}

export interface VnicProfile {
  id: string;
  name: string;
  network?: Ref;
}

/**
 * A data domain a disk can go to: attached to a data center (oVirt shows the per-DC status only
 * in the data center's view, so the top-level one is absent once attached) and not unattached.
 */
export function attachedData(d: StorageDomain): boolean {
  return d.type === "data" && (d.status === undefined || d.status === "active");
}
