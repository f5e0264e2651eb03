/**
 * iSCSI connections through open-iscsi's `iscsiadm` (Debian `open-iscsi`), as VDSM's iscsi.py
 * drives it: SendTargets discovery of a portal (discoverSendTargets), and a login to one target
 * per connectStorageServer entry of domType ISCSI (the node record is created, CHAP set when
 * given, then `--login`); disconnectStorageServer logs out. The LUNs a session brings are block
 * devices like any other.
 *
 * Where the kernel has no `iscsi_tcp` module (this machine kind: loop and FUSE only) no session
 * can exist: every iSCSI request is refused before iscsiadm runs, with iSCSISetupError (465) and a
 * message saying why, and the agent says so at start. Portal addresses, ports, IQNs and CHAP
 * values are validated (protocol's IscsiAddress, Iqn) before they reach iscsiadm's argv; secrets
 * never reach a log line.
 */
import { access } from "node:fs/promises";
import { type Connection, IQN_RE, iscsiAddressProblem, VdsmError } from "@vela/protocol";
import { CommandError, run } from "../../exec.js";
import type { Logger } from "../../log.js";

/** The module that carries iSCSI over TCP; without it the kernel has no initiator. */
const TRANSPORT_MODULE = "iscsi_tcp";
export const NO_TRANSPORT_MESSAGE =
  "this host's kernel has no iscsi_tcp module (no iSCSI initiator): iSCSI storage cannot be connected here; attach the LUNs another way (FCP, or loop devices on test machines)";

export interface IscsiTarget {
  address: string;
  port: number;
  iqn: string;
  tpgt?: number;
  user?: string;
  password?: string;
}

/** Checks and normalises an iSCSI connection of connectStorageServer; throws on anything odd. */
export function iscsiTargetOf(c: Pick<Connection, "connection" | "port" | "iqn" | "tpgt" | "user" | "password">): IscsiTarget {
  const addrProblem = iscsiAddressProblem(c.connection);
  if (addrProblem) throw new VdsmError("InvalidIpAddress", addrProblem);
  const port = c.port === undefined || c.port === "" ? 3260 : Number(c.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new VdsmError("InvalidParameter", `iSCSI port ${JSON.stringify(c.port)}`);
  if (!c.iqn || !IQN_RE.test(c.iqn)) throw new VdsmError("InvalidParameter", `iqn ${JSON.stringify(c.iqn ?? "")}: not an iSCSI qualified name (iqn.YYYY-MM.domain[:name])`);
  const tpgt = c.tpgt === undefined || c.tpgt === "" ? undefined : Number(c.tpgt);
  if (tpgt !== undefined && (!Number.isInteger(tpgt) || tpgt < 0 || tpgt > 65535)) throw new VdsmError("InvalidParameter", `iSCSI portal group tag ${JSON.stringify(c.tpgt)}`);
  for (const [k, v] of [["user", c.user], ["password", c.password]] as const) {
    if (v !== undefined && /[\n\r\0]/.test(v)) throw new VdsmError("InvalidParameter", `iSCSI ${k} holds a line break or NUL`);
  }
  return { address: c.connection, port, iqn: c.iqn, tpgt, user: c.user || undefined, password: c.password || undefined };
}

export class IscsiProvider {
  constructor(
    private readonly log: Logger,
    /** Where the kernel lists loaded modules (a test may point elsewhere). */
    private readonly sysModule = "/sys/module",
  ) {}

  /** Why iSCSI cannot work on this host, or undefined when it can. */
  async unsupported(): Promise<string | undefined> {
    if (!(await access(`${this.sysModule}/${TRANSPORT_MODULE}`).then(() => true, () => false))) {
      // Not loaded: loading it is what iscsid would do; a kernel without it refuses.
      const loaded = await run(["modprobe", TRANSPORT_MODULE], { log: this.log, timeoutMs: 30_000 }).then(() => true, () => false);
      if (!loaded) return NO_TRANSPORT_MESSAGE;
    }
    const have = await run(["iscsiadm", "--version"], { log: this.log, timeoutMs: 30_000 }).then(() => true, () => false);
    if (!have) return "open-iscsi's iscsiadm is not installed on this host (Debian package open-iscsi)";
    return undefined;
  }

  private async needSupport(): Promise<void> {
    const why = await this.unsupported();
    if (why) throw new VdsmError("iSCSISetupError", why);
  }

  private portal(t: { address: string; port: number; tpgt?: number }): string {
    return `${t.address}:${t.port}${t.tpgt === undefined ? "" : `,${t.tpgt}`}`;
  }

  /** iscsiadm runner: the argv may hold CHAP secrets, so it is not logged (only what was done). */
  private async iscsiadm(args: string[], errName: "iSCSIDiscoveryError" | "iSCSILoginError" | "StorageServerDisconnectionError", what: string): Promise<string> {
    try {
      const out = (await run(["iscsiadm", ...args], { timeoutMs: 120_000 })).stdout;
      this.log.debug({ what, op: args.find((a) => a.startsWith("--")) }, "iscsiadm");
      return out;
    } catch (err) {
      throw new VdsmError(errName, `${what}: ${err instanceof CommandError ? err.stderr.trim().slice(0, 500) : (err as Error).message}`);
    }
  }

  /** SendTargets discovery: `address:port,tpgt iqn` per target, as VDSM's fullTargets. */
  async discover(p: { connection: string; port: number; user?: string; password?: string }): Promise<string[]> {
    const addrProblem = iscsiAddressProblem(p.connection);
    if (addrProblem) throw new VdsmError("InvalidIpAddress", addrProblem);
    await this.needSupport();
    const portal = this.portal({ address: p.connection, port: p.port });
    const args = ["-m", "discoverydb", "-t", "sendtargets", "-p", portal];
    if (p.user) {
      await this.iscsiadm([...args, "--op=new"], "iSCSIDiscoveryError", portal);
      for (const [k, v] of [["discovery.sendtargets.auth.authmethod", "CHAP"], ["discovery.sendtargets.auth.username", p.user], ["discovery.sendtargets.auth.password", p.password ?? ""]]) {
        await this.iscsiadm([...args, "--op=update", "-n", k!, "-v", v!], "iSCSIDiscoveryError", portal);
      }
    }
    const out = await this.iscsiadm([...args, "--discover"], "iSCSIDiscoveryError", portal);
    return out.split("\n").map((l) => l.trim()).filter((l) => /^\S+:\d+,\d+ \S+$/.test(l));
  }

  async login(t: IscsiTarget): Promise<void> {
    await this.needSupport();
    const node = ["-m", "node", "-T", t.iqn, "-p", this.portal(t)];
    await this.iscsiadm([...node, "--op=new"], "iSCSILoginError", t.iqn);
    if (t.user) {
      for (const [k, v] of [["node.session.auth.authmethod", "CHAP"], ["node.session.auth.username", t.user], ["node.session.auth.password", t.password ?? ""]]) {
        await this.iscsiadm([...node, "--op=update", "-n", k!, "-v", v!], "iSCSILoginError", t.iqn);
      }
    }
    await this.iscsiadm([...node, "--login"], "iSCSILoginError", t.iqn);
  }

  async logout(t: IscsiTarget): Promise<void> {
    await this.needSupport();
    await this.iscsiadm(["-m", "node", "-T", t.iqn, "-p", this.portal(t), "--logout"], "StorageServerDisconnectionError", t.iqn);
  }
}
