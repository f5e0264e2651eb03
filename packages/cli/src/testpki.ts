/**
 * Certificates the CLI issues itself with openssl: `vela up`'s administrator client certificate
 * from the engine CA, and the test run's one CA (made once per `vela test` run, shared by every
 * test file): ca.pem and ca.key to seed the engines the tests start, engine.pem/key for them, node.pem/key for the node
 * agents the tests start without enrolling, and client.pem/key, the certificate the test harness
 * presents to nodes. Names cover loopback and the documentation ranges tests put hosts in
 * (192.0.2.0/24, 198.51.100.0/24). The run passes the directory as VELA_TEST_PKI and the CA as
 * NODE_EXTRA_CA_CERTS, so plain fetch() in tests trusts the test engines.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, { input, encoding: "utf8", timeout: 30_000, stdio: ["pipe", "pipe", "pipe"] });
}

function names(): string {
  const ips = ["127.0.0.1", "::1"];
  for (const net of ["192.0.2", "198.51.100"]) for (let i = 1; i < 255; i++) ips.push(`${net}.${i}`);
  const dns = ["localhost"];
  if (/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(hostname())) dns.push(hostname());
  return [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(",");
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function issue(dir: string, name: string, ou: string, ext: string[], cn = name === "client" ? "vela-test-client" : `vela-test-${name}`): void {
  const csr = openssl(["req", "-new", ...EC, "-keyout", join(dir, `${name}.key`), "-subj", `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.csr`), csr);
  writeFileSync(join(dir, `${name}.ext`), `${ext.join("\n")}\n`);
  const cert = openssl([
    "x509", "-req", "-in", join(dir, `${name}.csr`), "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key"),
    "-set_serial", `0x1${randomBytes(15).toString("hex")}`, "-days", name === "admin-client" ? "825" : "30", "-extfile", join(dir, `${name}.ext`),
    "-subj", `/O=Vela/OU=${ou}/CN=${cn}`,
  ]);
  writeFileSync(join(dir, `${name}.pem`), cert);
  rmSync(join(dir, `${name}.csr`), { force: true });
  rmSync(join(dir, `${name}.ext`), { force: true });
}

/**
 * `vela up`: an administrator's client certificate from the engine CA in `pkiDir` (made once:
 * admin-client.pem/.key), for scripts that talk to a node directly (examples/create_volume.py).
 */
export function ensureAdminClient(pkiDir: string): { cert: string; key: string } {
  const files = { cert: join(pkiDir, "admin-client.pem"), key: join(pkiDir, "admin-client.key") };
  if (!existsSync(files.cert) || !existsSync(files.key)) {
    issue(pkiDir, "admin-client", "client", ["basicConstraints=critical,CA:FALSE", "authorityKeyIdentifier=keyid", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"], "admin@internal");
  }
  return files;
}

/** Makes the test PKI in `dir` (about half a second). */
export function makeTestPki(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = openssl([
    "req", "-x509", "-new", ...EC, "-keyout", join(dir, "ca.key"), "-days", "30", "-subj", "/O=Vela/CN=Vela test CA",
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  writeFileSync(join(dir, "ca.pem"), ca);
  const base = ["basicConstraints=critical,CA:FALSE", "authorityKeyIdentifier=keyid"];
  const sans = `subjectAltName=${names()}`;
  issue(dir, "engine", "engine", [...base, "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth,clientAuth", sans]);
  issue(dir, "node", "node", [...base, "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth", sans]);
  issue(dir, "client", "client", [...base, "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"]);
}
