/**
 * A real OpenLDAP directory for tests: Debian's `slapd` run as a child process on 127.0.0.1 and
 * free ports, with a generated slapd.conf and an mdb database under the test's own temporary
 * directory (never the system's slapd), seeded with slapadd from an LDIF. TLS (StartTLS on
 * ldap://, and ldaps://) uses the test run's CA and its server certificate. The memberof overlay
 * is loaded, so entries added later through ldapadd get their users' memberOf values.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort, tempDir, until } from "@vela/testkit";
import { testPki } from "@vela/testkit/tls";

export const SUFFIX = "dc=vela,dc=test";
export const ENGINE_DN = `cn=vela-engine,${SUFFIX}`;
export const ENGINE_PW = "Engine-Bind-Secret-7";

export interface Slapd {
  dir: string;
  /** ldap:// (StartTLS offered) and ldaps:// URLs. */
  url: string;
  ldapsUrl: string;
  /** The same two on 127.0.0.2, an address the server certificate does not name. */
  otherNameUrls: [string, string];
  port: number;
  caFile: string;
  /** The engine's bind password, in a file of its own (VELA_LDAP_BIND_PASSWORD_FILE). */
  passwordFile: string;
  /** Adds entries through the running server (as its root DN), so overlays see them. */
  add(ldif: string): void;
  output(): string;
  stop(): Promise<void>;
}

const ROOT_DN = `cn=root,${SUFFIX}`;
const ROOT_PW = "Root-Secret-11";

function conf(dir: string): string {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
TLSCACertificateFile ${dir}/ca.pem
TLSCertificateFile ${dir}/server.pem
TLSCertificateKeyFile ${dir}/server.key
database mdb
maxsize 16777216
suffix "${SUFFIX}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PW}
directory ${dir}/db
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
`;
}

/** The base entries: the suffix, ou=people, ou=groups and the engine's own account. */
const BASE = `dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
dc: vela
o: Vela test

dn: ou=people,${SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ${ENGINE_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: vela-engine
userPassword: ${ENGINE_PW}
`;

function run(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { input, encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}${r.stdout}`);
}

async function listening(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
  });
}

/** Starts a directory seeded with BASE and `ldif` (entries under ou=people and ou=groups). */
export async function startSlapd(ldif: string): Promise<Slapd> {
  const dir = tempDir("vela-slapd-");
  mkdirSync(join(dir, "db"), { recursive: true });
  const pki = testPki();
  copyFileSync(join(pki, "ca.pem"), join(dir, "ca.pem"));
  // the run's server certificate covers 127.0.0.1: the engine's and the agents' own
  copyFileSync(join(pki, "engine.pem"), join(dir, "server.pem"));
  copyFileSync(join(pki, "engine.key"), join(dir, "server.key"));
  writeFileSync(join(dir, "slapd.conf"), conf(dir));
  writeFileSync(join(dir, "seed.ldif"), `${BASE}\n${ldif}`);
  run("slapadd", ["-q", "-f", join(dir, "slapd.conf"), "-l", join(dir, "seed.ldif")]);
  const passwordFile = join(dir, "engine-bind-password");
  writeFileSync(passwordFile, `${ENGINE_PW}\n`, { mode: 0o600 });
  const port = await freePort();
  const ldapsPort = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  // -d 0: stays in the foreground (a child of the test, ended with it), logging nothing but errors
  const otherNameUrls: [string, string] = [`ldap://127.0.0.2:${port}`, `ldaps://127.0.0.2:${ldapsPort}`];
  const proc: ChildProcess = spawn("slapd", ["-d", "0", "-f", join(dir, "slapd.conf"), "-h", [url, ldapsUrl, ...otherNameUrls].map((u) => `${u}/`).join(" ")], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  await until(`slapd listening on ${port} (output: ${out})`, async () => {
    if (proc.exitCode !== null) throw new Error(`slapd exited ${proc.exitCode}: ${out}`);
    return (await listening(port)) || undefined;
  });
  return {
    dir,
    url,
    ldapsUrl,
    otherNameUrls,
    port,
    caFile: join(dir, "ca.pem"),
    passwordFile,
    add(entries: string) {
      run("ldapadd", ["-x", "-H", url, "-D", ROOT_DN, "-w", ROOT_PW], entries);
    },
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}
