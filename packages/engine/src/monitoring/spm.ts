/**
 * Watches the SPM role as the nodes report it (getSpmStatus on every polled host of a pooled data
 * center): records the SPM host and LVER of each data center, each host's role (spm, contending,
 * none) and whether an election is under way (the data center shows `contend`). Nodes elect an
 * SPM by themselves, so the engine follows what they say; it starts an election itself only when
 * the host it knew as SPM lost the role. Leaves alone a data center whose SPM a command is moving.
 */
import type { Engine } from "../engine.js";
import { ensureSpm, spmStatus } from "../hosts/storage.js";
import { hostsOfDc } from "../db/repo/hosts.js";

export async function watchSpm(e: Engine, hostId: string): Promise<void> {
  const host = await e.db.selectFrom("hosts").selectAll().where("id", "=", hostId).executeTakeFirst();
  if (host?.status !== "up") return;
  const row = await e.db
    .selectFrom("data_centers")
    .innerJoin("clusters", "clusters.data_center_id", "data_centers.id")
    .selectAll("data_centers")
    .where("clusters.id", "=", host.cluster_id)
    .executeTakeFirst();
  if (!row?.master_domain_id) return;
  const key = `spm:${row.id}`;
  if (e.locks.isHeld(key)) return;
  const st = await spmStatus(e, host, row).catch(() => undefined);
  if (!st || e.locks.isHeld(key)) return;
  const dc = await e.db.selectFrom("data_centers").selectAll().where("id", "=", row.id).executeTakeFirstOrThrow();
  if (st.status === "SPM" && dc.spm_host_id !== host.id) {
    await e.db.updateTable("data_centers").set({ spm_host_id: host.id, spm_lver: st.lver }).where("id", "=", dc.id).execute();
    e.log.info({ dc: dc.name, host: host.name, lver: st.lver }, "SPM reported by the node");
  } else if (st.status !== "SPM" && dc.spm_host_id === host.id) {
    await e.db.updateTable("data_centers").set({ spm_host_id: null }).where("id", "=", dc.id).execute();
    e.log.warn({ dc: dc.name, host: host.name, now: st.status }, "the SPM host no longer holds the role");
    e.bg.run(`elect SPM ${dc.id}`, () => ensureSpm(e, dc.id));
  }
  const members = await hostsOfDc(e, dc.id, "up");
  const contending = members.some((m) => e.spmRole.get(m.id) === "contending") ? 1 : 0;
  if (contending !== dc.spm_contending && !e.locks.isHeld(key)) {
    await e.db.updateTable("data_centers").set({ spm_contending: contending }).where("id", "=", dc.id).execute();
  }
}
