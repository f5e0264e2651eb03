/**
 * One active engine per PostgreSQL database, any number on standby. The active engine holds a
 * session-level advisory lock on a connection of its own; a standby blocks on the same lock and
 * starts serving (migrations, API, monitors, job recovery) the moment it gets it. PostgreSQL drops
 * the lock with the session, so an active engine killed -9 hands over as soon as the server sees
 * its socket close. SQLite needs none of this: one file, one engine.
 *
 * An active engine that loses its lock connection exits at once rather than risk a second
 * active engine acting on the same hosts (it is fenced by its own hand; systemd or `vela up`
 * starts it again, as a standby). Where the server cannot see a peer die (a network cut rather
 * than a crash), the hand-over waits for PostgreSQL's TCP keepalive to end that session.
 */
import type * as PgNs from "pg";
import { loadPg } from "../deps.js";
import type { Logger } from "../log.js";
import { DB_UNREACHABLE, DbConfigError, describePgUrl } from "./dialect.js";

/** The lock's key: "VELA" in ASCII, so an administrator can spot it in pg_locks. */
export const LEADER_LOCK_KEY = 0x56454c41;

/** How often the active engine proves its lock connection still works. */
const HEARTBEAT_MS = 2000;

export interface Leadership {
  /** Ends the heartbeat and the lock connection (the lock goes with it). */
  release(): Promise<void>;
}

/**
 * Resolves once this engine holds the lock (at once when no other engine does). `onStandby` is
 * called if it has to wait; `onLost` if the lock connection fails after it was taken.
 */
export async function takeLeadership(url: string, log: Logger, onLost: (why: string) => void, onStandby?: () => void): Promise<Leadership> {
  const pg = await loadPg();
  const client: PgNs.Client = new pg.Client({ connectionString: url, application_name: "vela-engine-leader", keepAlive: true });
  let held = false;
  let released = false;
  const lost = (why: string) => {
    if (!held || released) return;
    released = true;
    onLost(why);
  };
  client.on("error", (err: Error) => lost(`leader lock connection failed: ${err.message}`));
  client.on("end", () => lost("leader lock connection closed"));
  try {
    await client.connect();
  } catch (err) {
    const why = (err as Error).message || (err as { code?: string }).code || String(err);
    throw new DbConfigError(DB_UNREACHABLE, `cannot reach PostgreSQL at ${describePgUrl(url)}: ${why}`);
  }
  const first = await client.query<{ got: boolean }>("SELECT pg_try_advisory_lock($1) AS got", [LEADER_LOCK_KEY]);
  if (!first.rows[0]?.got) {
    log.warn({ lock: LEADER_LOCK_KEY }, "another engine is active on this database: standing by until it stops");
    onStandby?.();
    // Blocks in the server until the active engine's session ends.
    await client.query("SELECT pg_advisory_lock($1)", [LEADER_LOCK_KEY]);
  }
  held = true;
  log.info({ lock: LEADER_LOCK_KEY }, "this engine is the active engine of its database");
  const beat = setInterval(() => {
    client.query("SELECT 1").catch((err: Error) => lost(`leader lock connection failed: ${err.message}`));
  }, HEARTBEAT_MS);
  beat.unref();
  return {
    async release() {
      released = true;
      clearInterval(beat);
      await client.end().catch(() => undefined);
    },
  };
}
