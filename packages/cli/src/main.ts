#!/usr/bin/env node
/** The `vela` command. Usually run through ./vela, which installs and builds first. */
import { spawn } from "node:child_process";
import { benchCommand } from "./bench.js";
import { ENGINE_USERS, velaHome } from "./paths.js";
import { packageCommand } from "./package.js";
import { testCommand } from "./test.js";
import { upCommand } from "./up.js";

const USAGE = `usage: vela <command>
  up [--hosts N] [--db postgres://…]
                   run the engine, N node agents and a local storage domain
  test [files…]    run the test suite
  bench [name…]    run benchmarks (bench/)
  user add|passwd NAME --password-stdin, user remove NAME, user list
  group add|remove NAME, group member GROUP USER, group list
                   internal users and groups of the engine in VELA_HOME (or VELA_DB_URL)
  package          build the Debian packages vela-engine and vela-node (into $VELA_PACKAGE_OUT, default ./dist-packages)
`;

/** Runs the engine's user command on the database of `vela up` (VELA_HOME), passing stdin through. */
function usersCommand(args: string[]): Promise<number> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [ENGINE_USERS, ...args], { stdio: "inherit", env: { ...process.env, VELA_HOME: velaHome(), VELA_ENGINE_CONF: process.env.VELA_ENGINE_CONF ?? "" } });
    p.once("error", rej);
    p.once("exit", (code) => res(code ?? 1));
  });
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
    case "user":
    case "group":
      return usersCommand([cmd, ...rest]);
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
