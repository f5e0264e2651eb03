/**
 * Names of referenced objects for searches: oVirt's search language names a cluster, data center,
 * host, storage domain or template by its name (`cluster=Default`, `Storage.name=local`), so a
 * reference field answers with both the id and the name. Loaded per search (small tables).
 */

import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import type { Engine } from "../engine.js";

type Ids = string | null | undefined;

export interface RefNames {
  cluster(id: Ids): string[];
  /** The data center of a cluster, as id and name. */
  dcOfCluster(id: Ids): string[];
  dc(id: Ids): string[];
  host(id: Ids): string[];
  storage(id: Ids): string[];
  template(id: Ids): string[];
  /** Every data center's id and name (the Blank template belongs to all of them). */
  allDcs(): string[];
}

export async function refNames(e: Engine): Promise<RefNames> {
  const db = e.db;
  const [clusters, dcs, hosts, sds, templates] = await Promise.all([
    db.selectFrom("clusters").select(["id", "name", "data_center_id"]).execute(),
    db.selectFrom("data_centers").select(["id", "name"]).execute(),
    db.selectFrom("hosts").select(["id", "name"]).execute(),
    db.selectFrom("storage_domains").select(["id", "name"]).execute(),
    db.selectFrom("templates").select(["id", "name"]).execute(),
  ]);
  const byId = (rows: { id: string; name: string }[]) => new Map(rows.map((r) => [r.id, r.name]));
  const [c, d, h, s, t] = [byId(clusters), byId(dcs), byId(hosts), byId(sds), byId(templates)];
  const dcOf = new Map(clusters.map((r) => [r.id, r.data_center_id]));
  const both = (m: Map<string, string>) => (id: Ids) => (id ? [id, m.get(id) ?? ""] : []);
  return {
    cluster: both(c),
    dcOfCluster: (id) => both(d)(id ? dcOf.get(id) : undefined),
    dc: both(d),
    host: both(h),
    storage: both(s),
    template: both(t),
    allDcs: () => dcs.flatMap((r) => [r.id, r.name]),
  };
}

export function isBlankTemplate(id: string): boolean {
  return id === BLANK_TEMPLATE_ID;
}
