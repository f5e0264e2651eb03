#!/usr/bin/env node
/**
 * `vela user …` and `vela group …`, run against the engine's database (VELA_HOME's engine.db,
 * or VELA_DB_URL): add, passwd, remove, list users; add, remove, list groups and add members.
 * Passwords come only on standard input (--password-stdin), never as arguments (they would show
 * in `ps` and shell history). Exit codes: 0 done, 1 refused (the message says why), 2 usage.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadEngineConfFile } from "../conffile.js";
import { openDb } from "../db/index.js";
import { addGroup, addMember, addUser, DOMAIN, findGroup, findUser, listGroups, listUsers, removeGroup, removeUser, setPassword, UserError } from "./store.js";

const USAGE = `usage: vela user add NAME --password-stdin
       vela user passwd NAME --password-stdin
       vela user remove NAME
       vela user list
       vela group add NAME | remove NAME | list | member GROUP USER
`;

class Usage extends Error {}

async function readPassword(args: string[]): Promise<string> {
  if (!args.includes("--password-stdin")) throw new Usage("the password is read from standard input only: pass --password-stdin");
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // one trailing newline is what `echo` adds, not part of the password
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

function need(v: string | undefined, what: string): string {
  if (!v || v.startsWith("--")) throw new Usage(`missing ${what}`);
  return v;
}

async function run(argv: string[]): Promise<string> {
  const [kind, op, ...args] = argv;
  loadEngineConfFile();
  // the database holds password hashes: nothing this command creates is readable by others
  process.umask(0o077);
  const home = resolve(process.env.VELA_HOME || "/var/lib/vela");
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const store = await openDb({ dbFile: join(home, "engine.db"), url: process.env.VELA_DB_URL || undefined });
  const db = store.db;
  try {
    if (kind === "user") {
      switch (op) {
        case "add": {
          const name = need(args[0], "NAME");
          const u = await addUser(db, name, await readPassword(args));
          return `added ${u.name}@${DOMAIN} ${u.id}`;
        }
        case "passwd":
        case "password": {
          const name = need(args[0], "NAME");
          await setPassword(db, name, await readPassword(args));
          return `password of ${name} changed`;
        }
        case "remove": {
          const name = need(args[0], "NAME");
          const u = await findUser(db, name);
          if (!u) throw new UserError("USER_NOT_FOUND", `no user ${name}`);
          await removeUser(db, u);
          return `removed ${u.name}@${DOMAIN}`;
        }
        case "list":
          return (await listUsers(db)).map((u) => `${u.domain === DOMAIN ? `${u.name}@${DOMAIN}` : u.name}\t${u.id}`).join("\n");
      }
    } else if (kind === "group") {
      switch (op) {
        case "add": {
          const g = await addGroup(db, need(args[0], "NAME"));
          return `added group ${g.name}@${DOMAIN} ${g.id}`;
        }
        case "remove": {
          const name = need(args[0], "NAME");
          const g = await findGroup(db, name);
          if (!g) throw new UserError("GROUP_NOT_FOUND", `no group ${name}`);
          await removeGroup(db, g);
          return `removed group ${g.name}@${DOMAIN}`;
        }
        case "member": {
          await addMember(db, need(args[0], "GROUP"), need(args[1], "USER"));
          return `${args[1]} is a member of ${args[0]}`;
        }
        case "list":
          return (await listGroups(db)).map((g) => `${g.domain === DOMAIN ? `${g.name}@${DOMAIN}` : g.name}\t${g.id}`).join("\n");
      }
    }
    throw new Usage(`unknown command: ${[kind, op].filter(Boolean).join(" ") || "(none)"}`);
  } finally {
    await store.close();
  }
}

run(process.argv.slice(2)).then(
  (out) => {
    if (out) process.stdout.write(`${out}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    if (err instanceof Usage) {
      process.stderr.write(`vela: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    const code = err instanceof UserError ? ` [${err.code}]` : "";
    process.stderr.write(`vela:${code} ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
