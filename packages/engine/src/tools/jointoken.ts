#!/usr/bin/env node
/**
 * `vela join-token [--ttl MINUTES]`: a one-time token for `vela-node join https://ENGINE --token
 * T` on one new machine (hosts/jointokens.ts). Prints the token alone on stdout (for
 * `T=$(vela join-token)`), and when it expires on stderr. Acts on the engine's database
 * (VELA_HOME's engine.db, or VELA_DB_URL). Exit codes: 0 made, 1 failed, 2 usage.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadEngineConfFile } from "../conffile.js";
import { openDb } from "../db/index.js";
import { createJoinToken, TTL_MAX, TTL_MIN } from "../hosts/jointokens.js";

const USAGE = `usage: vela join-token [--ttl MINUTES]   (default 60, ${TTL_MIN} to ${TTL_MAX})\n`;

class Usage extends Error {}

function ttlOf(args: string[]): number {
  if (args.length === 0) return 60;
  if (args.length !== 2 || args[0] !== "--ttl" || !/^\d{1,6}$/.test(args[1] ?? "")) throw new Usage(`unexpected arguments: ${args.join(" ").slice(0, 80)}`);
  const ttl = Number(args[1]);
  if (ttl < TTL_MIN || ttl > TTL_MAX) throw new Usage(`--ttl is minutes from ${TTL_MIN} to ${TTL_MAX}`);
  return ttl;
}

async function run(args: string[]): Promise<void> {
  const ttl = ttlOf(args);
  loadEngineConfFile();
  process.umask(0o077);
  const home = resolve(process.env.VELA_HOME || "/var/lib/vela");
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const store = await openDb({ dbFile: join(home, "engine.db"), url: process.env.VELA_DB_URL || undefined });
  try {
    const t = await createJoinToken(store.db, ttl);
    process.stdout.write(`${t.token}\n`);
    process.stderr.write(`join token ${t.id}: good for one host until ${t.expires}; on the new machine: vela-node join https://ENGINE --token <token>\n`);
  } finally {
    await store.close();
  }
}

run(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof Usage) {
      process.stderr.write(`vela: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`vela: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
