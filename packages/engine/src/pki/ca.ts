/**
 * The engine's certificate authority (oVirt's engine PKI): made on first start in
 * $VELA_HOME/pki — ca.key (0600) and a self-signed ca.pem, then engine.key/engine.pem, the
 * engine's own certificate for its host names, used both to serve HTTPS and as the client
 * certificate towards nodes. A later start reuses them; the engine certificate is issued again
 * when it no longer covers the configured names or expires within 30 days. Signing node and
 * client requests never copies extensions from the request: the CA decides every one.
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import type { Logger } from "../log.js";
import { openssl, PkiError } from "./openssl.js";

export { PkiError } from "./openssl.js";

/** Kinds of certificates the CA issues, with their key usages. */
export type CertKind = "engine" | "node" | "client";

export interface Pki {
  dir: string;
  caFile: string;
  caPem: string;
  /** The engine's own key and certificate (PEM), for the HTTPS server and node calls. */
  key: string;
  cert: string;
  /** Signs a certificate request; the subject and extensions are the CA's choice, not the request's. */
  sign(csrPem: string, p: { cn: string; kind: CertKind; sans: string[]; days: number }): Promise<string>;
}

const CA_DAYS = 3650;
const ENGINE_DAYS = 398;
const RENEW_BEFORE_MS = 30 * 86_400_000;
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;
const CN = /^[A-Za-z0-9][A-Za-z0-9 .@_-]{0,63}$/;

/** A subjectAltName value from host names and addresses; anything else is refused (it goes into a config line). */
export function altNames(names: readonly string[]): string {
  return names
    .map((n) => {
      if (isIP(n)) return `IP:${n}`;
      if (DNS_NAME.test(n)) return `DNS:${n}`;
      throw new PkiError(`not a host name or IP address: ${JSON.stringify(n)}`);
    })
    .join(",");
}

/** SHA-256 fingerprint of a certificate or request (its DER), as openssl and browsers show it. */
export function fingerprint(pem: string): string {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex").toUpperCase().replace(/(..)(?!$)/g, "$1:");
}

/** SHA-256 fingerprint of the public key a certificate request carries (what an approval is for). */
export async function requestKeyFingerprint(csrPem: string): Promise<string> {
  checkRequest(csrPem);
  const pub = await openssl(["req", "-noout", "-pubkey"], csrPem);
  return fingerprint(pub);
}

function checkRequest(csrPem: string): void {
  if (!/^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n?$/.test(csrPem) || csrPem.length > 16_384) {
    throw new PkiError("not a PEM certificate request");
  }
}

function serial(): string {
  return `0x${randomBytes(16).toString("hex").replace(/^./, "1")}`;
}

function extensions(kind: CertKind, sans: string[]): string {
  const lines = ["basicConstraints=critical,CA:FALSE", "authorityKeyIdentifier=keyid", "subjectKeyIdentifier=hash"];
  if (kind === "client") lines.push("keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth");
  else lines.push("keyUsage=critical,digitalSignature,keyEncipherment");
  // Nodes serve only: their certificate cannot be used as a client towards another node.
  if (kind === "node") lines.push("extendedKeyUsage=serverAuth");
  if (kind === "engine") lines.push("extendedKeyUsage=serverAuth,clientAuth");
  if (sans.length > 0) lines.push(`subjectAltName=${altNames(sans)}`);
  return `${lines.join("\n")}\n`;
}

function writeAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp-${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

/** Does the engine certificate still serve: signed by this CA, valid a while yet, covering every name? */
function engineCertFits(certPem: string, ca: X509Certificate, names: readonly string[]): boolean {
  try {
    const c = new X509Certificate(certPem);
    if (!c.verify(ca.publicKey)) return false;
    if (Date.parse(c.validTo) - Date.now() < RENEW_BEFORE_MS) return false;
    return names.every((n) => (isIP(n) ? c.checkIP(n) !== undefined : c.checkHost(n) !== undefined));
  } catch {
    return false;
  }
}

async function makeCa(dir: string): Promise<void> {
  const tag = randomBytes(3).toString("hex");
  const key = join(dir, `ca.key.tmp-${tag}`);
  const pem = await openssl([
    "req", "-x509", "-new", ...EC, "-keyout", key, "-days", String(CA_DAYS), "-subj", `/O=Vela/CN=Vela Engine CA ${tag}`,
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  chmodSync(key, 0o600);
  writeAtomic(join(dir, "ca.pem"), pem, 0o644);
  renameSync(key, join(dir, "ca.key"));
}

function signWith(dir: string) {
  return async (csrPem: string, p: { cn: string; kind: CertKind; sans: string[]; days: number }): Promise<string> => {
    if (!CN.test(p.cn)) throw new PkiError(`bad certificate name ${JSON.stringify(p.cn)}`);
    checkRequest(csrPem);
    const tag = randomBytes(6).toString("hex");
    const csr = join(dir, `req-${tag}.csr`);
    const ext = join(dir, `req-${tag}.ext`);
    try {
      writeFileSync(csr, csrPem, { mode: 0o600 });
      writeFileSync(ext, extensions(p.kind, p.sans), { mode: 0o600 });
      // the request must be signed by the key it carries (proof of possession)
      await openssl(["req", "-in", csr, "-noout", "-verify"]);
      return await openssl([
        "x509", "-req", "-in", csr, "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key"), "-set_serial", serial(),
        "-days", String(p.days), "-extfile", ext, "-subj", `/O=Vela/OU=${p.kind}/CN=${p.cn}`, "-sha256",
      ]);
    } finally {
      rmSync(csr, { force: true });
      rmSync(ext, { force: true });
    }
  };
}

/**
 * Makes a key in `dir` and its certificate signed by the CA, in one openssl run (`req -x509 -CA`):
 * the engine's own certificate needs no request to check, and each openssl run is tens of ms of a
 * first start (a request, its check and its signing were three). Returns the key file path and
 * the certificate.
 */
export async function issue(dir: string, name: string, p: { cn: string; kind: CertKind; sans: string[]; days: number }): Promise<{ keyFile: string; cert: string }> {
  if (!CN.test(p.cn)) throw new PkiError(`bad certificate name ${JSON.stringify(p.cn)}`);
  const tag = randomBytes(3).toString("hex");
  const keyTmp = join(dir, `${name}.key.tmp-${tag}`);
  const cnf = join(dir, `req-${tag}.cnf`);
  try {
    // The subject comes from -subj; the config only names the extensions, all of them the CA's.
    writeFileSync(cnf, `[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n[dn]\nCN = vela\n[ext]\n${extensions(p.kind, p.sans)}`, { mode: 0o600 });
    const cert = await openssl([
      "req", "-x509", "-new", ...EC, "-keyout", keyTmp, "-config", cnf, "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key"),
      "-set_serial", serial(), "-days", String(p.days), "-subj", `/O=Vela/OU=${p.kind}/CN=${p.cn}`, "-sha256",
    ]);
    chmodSync(keyTmp, 0o600);
    const keyFile = join(dir, `${name}.key`);
    renameSync(keyTmp, keyFile);
    writeAtomic(join(dir, `${name}.pem`), cert, 0o644);
    return { keyFile, cert };
  } finally {
    rmSync(keyTmp, { force: true });
    rmSync(cnf, { force: true });
  }
}

/** Opens (or makes) the CA in `dir` and an engine certificate covering `names`. */
export async function ensurePki(dir: string, names: readonly string[], log: Logger): Promise<Pki> {
  altNames(names); // refuse bad names before anything is written
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (!existsSync(join(dir, "ca.key")) || !existsSync(join(dir, "ca.pem"))) {
    if (existsSync(join(dir, "ca.pem"))) throw new PkiError(`${dir}/ca.pem exists without its key ca.key: restore the key or move the directory away`);
    await makeCa(dir);
    log.info({ dir, fingerprint: fingerprint(readFileSync(join(dir, "ca.pem"), "utf8")) }, "made the engine CA");
  }
  const caPem = readFileSync(join(dir, "ca.pem"), "utf8");
  const ca = new X509Certificate(caPem);
  const sign = signWith(dir);
  const certFile = join(dir, "engine.pem");
  let cert = existsSync(certFile) && existsSync(join(dir, "engine.key")) ? readFileSync(certFile, "utf8") : "";
  if (!engineCertFits(cert, ca, names)) {
    cert = (await issue(dir, "engine", { cn: names[0] ?? "vela-engine", kind: "engine", sans: [...names], days: ENGINE_DAYS })).cert;
    log.info({ names, fingerprint: fingerprint(cert) }, "issued the engine certificate");
  }
  return { dir, caFile: join(dir, "ca.pem"), caPem, key: readFileSync(join(dir, "engine.key"), "utf8"), cert, sign };
}
