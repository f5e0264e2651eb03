/**
 * Rows for the engine benchmarks, inserted straight into a stopped engine's database (SQLite
 * in one transaction, PostgreSQL in multi-row INSERTs), as if made over time: VMs, users,
 * permissions.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { databaseFor } from "@vela/engine/dist/test/pg.js";
import { startEngine, tempDir } from "@vela/engine/dist/test/support.js";
import Database from "better-sqlite3";
import pg from "pg";

export type Db = "sqlite" | "postgres";
export type Row = unknown[];

const BLANK = "00000000-0000-0000-0000-000000000000";
export const VM_COLUMNS = ["id", "name", "cluster_id", "template_id", "memory", "cpu_sockets", "cpu_cores", "cpu_threads", "os_type", "boot_devices", "display_type", "status", "created_at"];

/** `n` stopped VMs in a cluster; the id is the first member of each row. */
export function vmRows(n: number, clusterId: string): Row[] {
  const at = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => [randomUUID(), `vm-${String(i).padStart(5, "0")}`, clusterId, BLANK, 2 ** 30, 1, 2, 1, "other_linux", '["hd"]', "vnc", "down", at]);
}

/**
 * A stopped engine's home holding `n` VMs: the engine is started once (migrations, the Default
 * cluster), stopped, and the VMs are inserted. Start it again with the returned home and port.
 */
export async function homeWithVms(db: Db, n: number, prefix: string, env: Record<string, string>): Promise<{ home: string; port: number }> {
  const home = tempDir(prefix);
  const first = await startEngine({ home, db, env });
  const cluster = (await first.get<{ cluster: { id: string }[] }>("/clusters")).cluster[0]!.id;
  await first.stop();
  await insert(db, home, "vms", VM_COLUMNS, vmRows(n, cluster));
  return { home, port: first.port };
}

/** Inserts rows into one table of the engine's database at `home`. */
export async function insert(db: Db, home: string, table: string, columns: string[], rows: Row[]): Promise<void> {
  if (db === "sqlite") {
    const d = new Database(join(home, "engine.db"));
    try {
      const stmt = d.prepare(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`);
      d.transaction(() => {
        for (const r of rows) stmt.run(...r);
      })();
    } finally {
      d.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: await databaseFor(home) });
  await c.connect();
  try {
    await c.query("BEGIN");
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000);
      const values = batch.map((_, r) => `(${columns.map((_, k) => `$${r * columns.length + k + 1}`).join(", ")})`).join(", ");
      await c.query(`INSERT INTO ${table} (${columns.join(", ")}) VALUES ${values}`, batch.flat());
    }
    await c.query("COMMIT");
  } finally {
    await c.end();
  }
}

/** Nearest-rank percentile of sorted samples. */
export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
