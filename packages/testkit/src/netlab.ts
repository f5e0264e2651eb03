/**
 * A small network lab for tests: hosts are network namespaces, joined by veth pairs to switch
 * bridges in the root namespace. The management switch carries one 192.0.2.X/32 address with a
 * /32 route per host, so the test process reaches each agent while nothing is routed beyond these
 * interfaces. Data switches have no address: traffic on them stays between the lab's namespaces
 * (and its guests). Every name carries a random run id; `close()` removes all of it.
 *
 * Addresses in the root namespace are shared by every test file running at the same time (and by
 * other checkouts' runs on the machine): two labs that picked the same 192.0.2.X made `ip route
 * add` fail with "File exists" in one of them (seen in CI: a whole file's hook failed). So each
 * address is reserved across processes first (`reserveAddress`), and one the kernel already uses
 * is never picked.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `ip` inside a namespace. */
export function nsIp(ns: string, ...args: string[]): string {
  return ip("-n", ns, ...args);
}

/** A command inside a namespace; returns whether it exited 0. */
export function nsRun(ns: string, ...argv: string[]): boolean {
  try {
    execFileSync("ip", ["netns", "exec", ns, ...argv], { stdio: "ignore", timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Where reservations live: a fixed path, not TMPDIR (`vela test` gives every run its own TMPDIR,
 * and runs of two checkouts share the root namespace all the same).
 */
const RESERVATIONS = "/tmp/vela-test-addresses";
const held = new Set<string>();
process.once("exit", () => {
  for (const f of held) {
    try {
      unlinkSync(f);
    } catch {}
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the root namespace already has this address on a link or a route to it. */
function kernelUses(address: string): boolean {
  return ip("-o", "addr", "show", "to", address).trim() !== "" || ip("route", "show", `${address}/32`).trim() !== "";
}

/** Takes the reservation file for `address` unless a live process holds it. */
function claim(address: string): boolean {
  const file = join(RESERVATIONS, address);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = Number(readFileSync(file, "utf8").trim());
    if (owner > 0 && alive(owner)) return false;
    try {
      unlinkSync(file); // its process is gone: the reservation is stale
    } catch {}
  }
  return false;
}

/**
 * An address in `prefix`.2–253 that no other running test holds and the root namespace does not
 * use, reserved for this process until `releaseAddress` or its exit.
 */
export function reserveAddress(prefix: "192.0.2" | "198.51.100"): string {
  mkdirSync(RESERVATIONS, { recursive: true, mode: 0o1777 });
  for (let i = 0; i < 1000; i++) {
    const address = `${prefix}.${2 + ((randomBytes(1)[0] as number) % 252)}`;
    if (held.has(join(RESERVATIONS, address))) continue;
    if (!claim(address)) continue;
    if (!kernelUses(address)) return address;
    releaseAddress(address);
  }
  throw new Error(`no free address in ${prefix}.0/24: ${RESERVATIONS} lists the ones held by running tests`);
}

/** Gives a reserved address back. */
export function releaseAddress(address: string): void {
  const file = join(RESERVATIONS, address);
  if (!held.delete(file)) return;
  try {
    unlinkSync(file);
  } catch {}
}

export interface LabHost {
  ns: string;
  /** The agent's management address (on eth0). */
  address: string;
}

export class Lab {
  readonly id = randomBytes(3).toString("hex");
  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];
  private readonly addresses: string[] = [];
  private n = 0;
  readonly mgmtSwitch: string;
  readonly rootAddress: string;

  constructor() {
    this.mgmtSwitch = this.addSwitch();
    this.rootAddress = this.address();
    ip("addr", "add", `${this.rootAddress}/32`, "dev", this.mgmtSwitch);
  }

  private address(): string {
    const a = reserveAddress("192.0.2");
    this.addresses.push(a);
    return a;
  }

  /** A bridge in the root namespace (no address). */
  addSwitch(): string {
    const name = `vs${this.id}${(this.n++).toString(36)}`;
    ip("link", "add", "name", name, "type", "bridge", "stp_state", "0", "forward_delay", "0");
    ip("link", "set", name, "up");
    this.rootLinks.push(name);
    return name;
  }

  /** A bare namespace (loopback up), removed by close(). */
  addNamespace(): string {
    const ns = `vela-${this.id}-n${this.namespaces.length}`;
    ip("netns", "add", ns);
    this.namespaces.push(ns);
    nsIp(ns, "link", "set", "lo", "up");
    return ns;
  }

  /** A host namespace whose eth0 is on the management switch with a 192.0.2.Y/24 address. */
  addHost(): LabHost {
    const ns = `vela-${this.id}-h${this.namespaces.length}`;
    ip("netns", "add", ns);
    this.namespaces.push(ns);
    nsIp(ns, "link", "set", "lo", "up");
    const address = this.address();
    this.plug(ns, "eth0", this.mgmtSwitch);
    nsIp(ns, "addr", "add", `${address}/24`, "dev", "eth0");
    ip("route", "add", `${address}/32`, "dev", this.mgmtSwitch, "src", this.rootAddress);
    return { ns, address };
  }

  /** A veth pair: `ifname` inside the namespace, the other end a port of `sw`. */
  plug(ns: string, ifname: string, sw: string): void {
    const k = (this.n++).toString(36);
    const outer = `vp${this.id}${k}`;
    const inner = `vq${this.id}${k}`;
    ip("link", "add", "name", outer, "type", "veth", "peer", "name", inner);
    this.rootLinks.push(outer);
    ip("link", "set", outer, "master", sw);
    ip("link", "set", outer, "up");
    ip("link", "set", inner, "netns", ns);
    nsIp(ns, "link", "set", inner, "name", ifname);
    nsIp(ns, "link", "set", ifname, "up");
  }

  close(): void {
    for (const ns of this.namespaces) {
      try {
        ip("netns", "del", ns);
      } catch {}
    }
    for (const l of this.rootLinks.reverse()) {
      try {
        ip("link", "del", l);
      } catch {}
    }
    for (const a of this.addresses) releaseAddress(a);
  }
}
