#!/usr/bin/env node
/** The `vela` command. Usually run through ./vela, which installs and builds first. */
import { spawn } from "node:child_process";
import { benchCommand } from "./bench.js";
import { packageCommand } from "./package.js";
import { ENGINE_BACKUP, ENGINE_JOIN_TOKEN, ENGINE_USERS, velaHome } from "./paths.js";
import { testCommand } from "./test.js";
import { upCommand } from "./up.js";

const USAGE = `usage: vela <command>
  up [--hosts N] [--db postgres://…] [--block]
                   run the engine, N node agents and a local storage domain
  test [files…]    run the test suite
  bench [name…]    run benchmarks (bench/)
  user add|passwd NAME --password-stdin, user remove NAME, user list
  group add|remove NAME, group member GROUP USER, group list
                   internal users and groups of the engine in VELA_HOME (or VELA_DB_URL)
  join-token [--ttl MINUTES]
                   a one-time token for \`vela-node join https://ENGINE --token T\` on one new machine
  backup FILE      save the engine's database, CA and secrets to FILE (.tar.gz; works while it runs)
  restore FILE     put a backup back (the engine must be stopped)
  package          build the Debian packages vela-engine and vela-node (into $VELA_PACKAGE_OUT, default ./dist-packages)
`;

/** Runs an engine-side tool with this VELA_HOME; its output and exit code are ours. */
function engineTool(main: string, args: string[]): Promise<number> {
  const p = spawn(process.execPath, [main, ...args], { stdio: "inherit", env: { ...process.env, VELA_HOME: velaHome() } });
  return new Promise((res) => p.once("exit", (code, signal) => res(code ?? (signal ? 1 : 0))));
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "up":
      await upCommand(rest);
      return 0;
    case "test":
      return testCommand(rest);
    case "bench":
      return benchCommand(rest);
    case "backup":
    case "restore":
      return engineTool(ENGINE_BACKUP, [cmd, ...rest]);
    case "join-token":
      return engineTool(ENGINE_JOIN_TOKEN, rest);
    case "user":
    case "group":
      return engineTool(ENGINE_USERS, [cmd, ...rest]);
    case "package":
      return packageCommand();
    default:
      process.stderr.write(USAGE);
      return cmd === undefined || cmd === "help" || cmd === "--help" ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`vela: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
