/**
 * The node's certificate (its side of oVirt's host-deploy): found in VELA_NODE_PKI (node.key,
 * node.pem, ca.pem), or obtained by enrolling with the engine — the node makes its key (never
 * leaves the host) and a certificate request, sends it with its registration, and installs the
 * certificate the engine CA signed. The engine CA is trusted from VELA_ENGINE_CA, or fetched and
 * checked against an HMAC under the registration token (so a man in the middle without the token
 * cannot pose as the engine).
 */

import { createHash, createHmac, createPrivateKey, createPublicKey, timingSafeEqual, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JOIN_TOKEN_RE } from "@vela/protocol/ids";
import type { NodeConfig } from "../config.js";
import { run } from "../exec.js";
import type { Logger } from "../log.js";
import { engineRequest } from "./link.js";

export interface NodeTlsFiles {
  key: string;
  cert: string;
  ca: string;
}

/** Enrollment cannot go on (a wrong token, an engine that is not Vela, a refused request). */
export class EnrollError extends Error {
  readonly code = "ENROLL_FAILED";
  constructor(message: string) {
    super(message);
    this.name = "EnrollError";
  }
}

const RETRY_MS = 3000;

export function pkiPaths(dir: string): { key: string; cert: string; ca: string } {
  return { key: join(dir, "node.key"), cert: join(dir, "node.pem"), ca: join(dir, "ca.pem") };
}

/** The installed certificate, key and CA, if all three are there. */
export function installed(dir: string): NodeTlsFiles | undefined {
  const p = pkiPaths(dir);
  if (!existsSync(p.key) || !existsSync(p.cert) || !existsSync(p.ca)) return undefined;
  return { key: readFileSync(p.key, "utf8"), cert: readFileSync(p.cert, "utf8"), ca: readFileSync(p.ca, "utf8") };
}

function isCa(pem: string): boolean {
  try {
    return new X509Certificate(pem).ca;
  } catch {
    return false;
  }
}

/** The engine CA: the given file, one kept from an earlier try, or fetched and checked with the token. */
async function engineCa(config: NodeConfig, engine: URL): Promise<string> {
  if (config.engineCaFile) {
    const pem = readFileSync(config.engineCaFile, "utf8");
    if (!isCa(pem)) throw new EnrollError(`VELA_ENGINE_CA=${config.engineCaFile} is not a CA certificate (PEM)`);
    return pem;
  }
  const kept = pkiPaths(config.pkiDir).ca;
  if (existsSync(kept)) return readFileSync(kept, "utf8");
  const token = config.registrationToken;
  if (!token) throw new EnrollError("cannot trust the engine: give its CA (VELA_ENGINE_CA, from …/ovirt-engine/services/pki-resource) or the registration token");
  // A one-time join token names itself by its id; the engine keys the HMAC with its SHA-256.
  const oneTime = JOIN_TOKEN_RE.exec(token);
  const caUrl = new URL("/vela/v1/pki/ca", engine);
  if (oneTime) caUrl.searchParams.set("token_id", oneTime[1] as string);
  const macKey = oneTime ? createHash("sha256").update(token).digest("hex") : token;
  const a = await engineRequest(caUrl, "GET", { unverified: true });
  const ca = a.body.ca;
  const mac = a.body.mac;
  if (oneTime && (a.status === 403 || a.status === 404) && /join token/.test(a.text)) {
    throw new EnrollError(`${engine.origin} refused our join token (${a.status}): ${a.text.slice(0, 300)}`);
  }
  if (a.status !== 200 || typeof ca !== "string" || typeof mac !== "string") {
    throw new EnrollError(`${engine.origin} does not look like a Vela engine: GET /vela/v1/pki/ca answered ${a.status} ${a.text.slice(0, 200)}`);
  }
  const want = createHmac("sha256", macKey).update(ca).digest();
  const got = Buffer.from(mac, "hex");
  if (got.length !== want.length || !timingSafeEqual(got, want) || !isCa(ca)) {
    throw new EnrollError(`the CA ${engine.origin} sent is not vouched for by our registration token: a wrong token, or not our engine`);
  }
  return ca;
}

/** The node's key (kept across tries, so an approval applies to the key the administrator saw) and a request for it. */
async function keyAndRequest(dir: string, cn: string, log: Logger): Promise<{ keyFile: string; csr: string }> {
  const keyFile = join(dir, "node.key");
  if (!existsSync(keyFile)) {
    const tmp = `${keyFile}.tmp`;
    rmSync(tmp, { force: true });
    await run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", tmp], { timeoutMs: 20_000, log });
    chmodSync(tmp, 0o600);
    renameSync(tmp, keyFile);
  }
  const { stdout } = await run(["openssl", "req", "-new", "-key", keyFile, "-subj", `/CN=${cn}`], { timeoutMs: 20_000, log });
  return { keyFile, csr: stdout };
}

/** SHA-256 of the node's public key (DER), as the engine logs it for the approval. */
function keyFingerprint(keyFile: string): string {
  const der = createPublicKey(createPrivateKey(readFileSync(keyFile))).export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex").toUpperCase().replace(/(..)(?!$)/g, "$1:");
}

function checkIssued(cert: string, ca: string, keyFile: string): void {
  const c = new X509Certificate(cert);
  if (!c.verify(new X509Certificate(ca).publicKey)) throw new EnrollError("the engine answered a certificate its CA did not sign");
  if (!c.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))) throw new EnrollError("the engine answered a certificate for another key");
}

/**
 * Enrolls until the engine signs (waiting while an administrator has to approve the host), then
 * installs the certificate. `registration` is the node's registration body.
 */
export async function enroll(config: NodeConfig, log: Logger, registration: () => Promise<Record<string, unknown>>): Promise<NodeTlsFiles> {
  if (!config.engineUrl) throw new EnrollError(`no certificate in ${config.pkiDir} and no engine to enroll with: run \`vela-node join https://ENGINE --token T\`, or set VELA_ENGINE_URL`);
  const engine = new URL(config.engineUrl);
  if (engine.protocol !== "https:") throw new EnrollError(`VELA_ENGINE_URL=${config.engineUrl}: enrollment needs the engine's https URL`);
  mkdirSync(config.pkiDir, { recursive: true, mode: 0o700 });
  let waiting = false;
  for (let attempt = 1; ; attempt++) {
    try {
      const ca = await engineCa(config, engine);
      const paths = pkiPaths(config.pkiDir);
      writeFileSync(paths.ca, ca, { mode: 0o644 });
      const { keyFile, csr } = await keyAndRequest(config.pkiDir, config.hostUuid, log);
      const a = await engineRequest(new URL("/vela/v1/hosts/enroll", engine), "POST", { ca }, { ...(await registration()), csr });
      const cert = a.body.certificate;
      if (a.status === 200 && typeof cert === "string") {
        checkIssued(cert, ca, keyFile);
        writeFileSync(`${paths.cert}.tmp`, cert, { mode: 0o644 });
        renameSync(`${paths.cert}.tmp`, paths.cert);
        log.info({ engine: engine.origin, dir: config.pkiDir }, "enrolled: the engine signed this node's certificate");
        return { key: readFileSync(keyFile, "utf8"), cert, ca };
      }
      if (a.status === 202) {
        if (!waiting) log.warn({ engine: engine.origin, host: a.body.id, key: keyFingerprint(keyFile) }, "waiting for an administrator to approve this host: the engine's log must show this key fingerprint");
        waiting = true;
      } else if (a.status >= 400 && a.status < 500 && a.status !== 409) {
        throw new EnrollError(`the engine refused the enrollment: HTTP ${a.status} ${a.text.slice(0, 300)}`);
      } else {
        log.warn({ status: a.status, answer: a.text.slice(0, 300) }, "enrollment not answered; will retry");
      }
    } catch (err) {
      if (err instanceof EnrollError) throw err;
      if (attempt === 1 || attempt % 20 === 0) log.warn({ engine: engine.origin, err: String(err) }, "enrollment failed; will retry");
    }
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}
