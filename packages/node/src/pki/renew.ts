/**
 * Renewing the node's certificate while it runs (oVirt's "Enroll Certificate"): the engine asks
 * for a request (`certificateRequest`: a new key, kept beside the served one as node.key.next),
 * signs it, and installs the certificate (`installCertificate`): it must be signed by the engine
 * CA the node trusts and be for that new key; then the key and certificate files are replaced and
 * the server's TLS context switched, so new connections get the new certificate while open ones
 * and running VMs carry on. Until the switch the old certificate is served and keeps working.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { VdsmError } from "@vela/protocol";
import type { PartialHandlers } from "../api/handlers.js";
import type { NodeConfig } from "../config.js";
import { run } from "../exec.js";
import type { Logger } from "../log.js";
import { type NodeTlsFiles, pkiPaths } from "./enroll.js";

/** Switches what the server presents (and which CA its clients must chain to) for new connections. */
export type TlsSwitch = (files: NodeTlsFiles) => void;

export function renewalHandlers(config: NodeConfig, log: Logger, switchTls: TlsSwitch): PartialHandlers {
  const paths = pkiPaths(config.pkiDir);
  const nextKey = `${paths.key}.next`;
  const tlsOn = () => {
    if (!config.tls) throw new VdsmError("noimpl", "TLS is off on this node (VELA_NODE_TLS=off): there is no certificate to renew");
  };
  return {
    certificateRequest: async () => {
      tlsOn();
      // A new key each time: a request left unanswered (engine gone) is replaced, never reused.
      const tmp = `${nextKey}.tmp`;
      rmSync(tmp, { force: true });
      await run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", tmp], { timeoutMs: 20_000, log });
      chmodSync(tmp, 0o600);
      renameSync(tmp, nextKey);
      const { stdout } = await run(["openssl", "req", "-new", "-key", nextKey, "-subj", `/CN=${config.hostUuid}`], { timeoutMs: 20_000, log });
      log.info("made a new key and certificate request for the certificate renewal");
      return { csr: stdout };
    },
    installCertificate: async ({ certificate }) => {
      tlsOn();
      if (!existsSync(nextKey)) throw new VdsmError("InvalidParameter", "no certificate request is pending (call certificateRequest first)");
      const ca = readFileSync(paths.ca, "utf8");
      const key = readFileSync(nextKey, "utf8");
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(certificate);
      } catch {
        throw new VdsmError("InvalidParameter", "not a PEM certificate");
      }
      if (!cert.verify(new X509Certificate(ca).publicKey)) throw new VdsmError("InvalidParameter", "the certificate is not signed by this node's engine CA");
      if (!cert.checkPrivateKey(createPrivateKey(key))) throw new VdsmError("InvalidParameter", "the certificate is not for the pending request's key");
      if (!cert.subject.split("\n").includes(`CN=${config.hostUuid}`)) throw new VdsmError("InvalidParameter", `the certificate is not for this host (${config.hostUuid})`);
      writeFileSync(`${paths.cert}.next`, certificate, { mode: 0o644 });
      // Key first, then certificate: each rename is atomic; the served context switches after both.
      renameSync(nextKey, paths.key);
      renameSync(`${paths.cert}.next`, paths.cert);
      switchTls({ key, cert: certificate, ca });
      log.info({ serial: cert.serialNumber, validTo: cert.validTo }, "certificate renewed: serving the new one");
      return {};
    },
  };
}
