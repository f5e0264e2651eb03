/**
 * A small network lab for tests: hosts are network namespaces, joined by veth pairs to switch
 * bridges in the root namespace. The management switch carries one random 192.0.2.X/32 address
 * with a /32 route per host, so the test process reaches each agent while nothing is routed
 * beyond these interfaces and another run's lab cannot clash with whole-subnet routes. Data
 * switches have no address: traffic on them stays between the lab's namespaces (and its guests).
 * Every name carries a random run id; `close()` removes all of it.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

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

export interface LabHost {
  ns: string;
  /** The agent's management address (on eth0). */
  address: string;
}

export class Lab {
  readonly id = randomBytes(3).toString("hex");
  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];
  private readonly usedOctets = new Set<number>();
  private n = 0;
  readonly mgmtSwitch: string;
  readonly rootAddress: string;

  constructor() {
    this.mgmtSwitch = this.addSwitch();
    this.rootAddress = `192.0.2.${this.octet()}`;
    ip("addr", "add", `${this.rootAddress}/32`, "dev", this.mgmtSwitch);
  }

  private octet(): number {
    for (;;) {
      const o = 2 + (randomBytes(1)[0] as number) % 252;
      if (!this.usedOctets.has(o)) {
        this.usedOctets.add(o);
        return o;
      }
    }
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
    const address = `192.0.2.${this.octet()}`;
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
  }
}
