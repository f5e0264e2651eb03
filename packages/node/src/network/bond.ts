/**
 * Bonds (the kernel's bonding driver) as VDSM's setupNetworks makes them: `bondN` over a set of
 * NICs, with options written VDSM's way ("mode=4 miimon=100"). Options are parsed into a fixed
 * table of the driver's settings, each value checked, and handed to iproute2 as separate argv
 * words (`ip link add bond0 type bond mode 802.3ad miimon 100`); nothing else from a request
 * reaches `ip`. A bond's mode can only change while it has no slaves, so an edit of its options
 * releases the slaves, sets the options, and enslaves them again.
 */
import { existsSync, readFileSync } from "node:fs";
import { VdsmError } from "@vela/protocol";
import type { Logger } from "../log.js";
import { deleteLink, linkUp, noMaster } from "./bridge.js";
import { ip, linkExists } from "./ip.js";

/** A bond as the node records it: its slaves and its options, normalised. */
export interface BondConf {
  nics: string[];
  /** "mode=802.3ad miimon=100": names as iproute2 spells them, in a stable order. */
  options: string;
}

/** The bonding driver's modes: VDSM/oVirt write them as numbers, iproute2 takes names. */
const MODES = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"];

const UINT = /^[0-9]{1,7}$/;
const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** The value `v` names in `table`, own keys only ("constructor" is no option value). */
function pick(table: Record<string, string>, v: string): string | undefined {
  return Object.hasOwn(table, v) ? table[v] : undefined;
}

/** Each option the node accepts, with its check and its iproute2 spelling of the value. */
const OPTIONS: Record<string, (v: string) => string | undefined> = {
  mode: (v) => (UINT.test(v) ? MODES[Number(v)] : MODES.includes(v) ? v : undefined),
  miimon: (v) => (UINT.test(v) ? v : undefined),
  updelay: (v) => (UINT.test(v) ? v : undefined),
  downdelay: (v) => (UINT.test(v) ? v : undefined),
  arp_interval: (v) => (UINT.test(v) ? v : undefined),
  arp_ip_target: (v) => (v.split(",").every((a) => IPV4.test(a)) && v.split(",").length <= 16 ? v : undefined),
  lacp_rate: (v) => pick({ "0": "slow", "1": "fast", slow: "slow", fast: "fast" }, v),
  xmit_hash_policy: (v) => (["layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac"].includes(v) ? v : pick({ "0": "layer2", "1": "layer3+4", "2": "layer2+3" }, v)),
  ad_select: (v) => pick({ "0": "stable", "1": "bandwidth", "2": "count", stable: "stable", bandwidth: "bandwidth", count: "count" }, v),
  fail_over_mac: (v) => pick({ "0": "none", "1": "active", "2": "follow", none: "none", active: "active", follow: "follow" }, v),
  primary_reselect: (v) => pick({ "0": "always", "1": "better", "2": "failure", always: "always", better: "better", failure: "failure" }, v),
  min_links: (v) => (UINT.test(v) ? v : undefined),
  all_slaves_active: (v) => (v === "0" || v === "1" ? v : undefined),
  use_carrier: (v) => (v === "0" || v === "1" ? v : undefined),
  num_grat_arp: (v) => (UINT.test(v) && Number(v) <= 255 ? v : undefined),
  resend_igmp: (v) => (UINT.test(v) && Number(v) <= 255 ? v : undefined),
  primary: (v) => (/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(v) ? v : undefined),
};

/** "mode=4 miimon=100" → "mode=802.3ad miimon=100"; refuses an unknown name or a bad value. */
export function normaliseBondOptions(bond: string, options: string | undefined): string {
  const out = new Map<string, string>();
  for (const word of (options ?? "").split(/[\s,]+/).filter(Boolean)) {
    const eq = word.indexOf("=");
    const key = eq > 0 ? word.slice(0, eq) : "";
    const check = Object.hasOwn(OPTIONS, key) ? OPTIONS[key] : undefined;
    if (!check) throw new VdsmError("ERR_BAD_BONDING", `bond ${bond}: unknown option ${JSON.stringify(word)}`);
    const value = check(word.slice(eq + 1));
    if (value === undefined) throw new VdsmError("ERR_BAD_BONDING", `bond ${bond}: bad value in ${JSON.stringify(word)}`);
    out.set(key, value);
  }
  return [...out].sort(([a], [b]) => (a === "mode" ? -1 : b === "mode" ? 1 : a.localeCompare(b))).map(([k, v]) => `${k}=${v}`).join(" ");
}

/** The argv words for `ip link … type bond`: "mode=802.3ad miimon=100" → [mode, 802.3ad, miimon, 100]. */
function optionArgs(options: string): string[] {
  return options.split(" ").filter(Boolean).flatMap((w) => {
    const eq = w.indexOf("=");
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** The slaves the kernel has for a bond now. */
export function bondSlaves(name: string): string[] {
  const f = `/sys/class/net/${name}/bonding/slaves`;
  return existsSync(f) ? readFileSync(f, "utf8").trim().split(/\s+/).filter(Boolean).sort() : [];
}

export function isBond(name: string): boolean {
  return existsSync(`/sys/class/net/${name}/bonding`);
}

/** Whether the bond is there with exactly its slaves (false after a reboot). */
export function bondPresent(name: string, conf: BondConf): boolean {
  return isBond(name) && bondSlaves(name).join(" ") === [...conf.nics].sort().join(" ");
}

/** A NIC must be down to be enslaved; its addresses would shadow the bond's. */
async function enslave(nic: string, bond: string, log: Logger): Promise<void> {
  await ip(["link", "set", "dev", nic, "down"], log);
  await ip(["-4", "addr", "flush", "dev", nic], log);
  await ip(["link", "set", "dev", nic, "master", bond], log);
  await linkUp(nic, log);
}

/** Makes the bond, or brings an existing one to `conf` (options, then slaves). */
export async function buildBond(name: string, conf: BondConf, current: BondConf | undefined, log: Logger): Promise<void> {
  if (!isBond(name)) {
    await ip(["link", "add", "name", name, "type", "bond", ...optionArgs(conf.options)], log);
  } else if (current?.options !== conf.options) {
    // the mode (and some other settings) can only change on a bond without slaves
    for (const s of bondSlaves(name)) await noMaster(s, log);
    await ip(["link", "set", "dev", name, "down"], log);
    await ip(["link", "set", "dev", name, "type", "bond", ...optionArgs(conf.options)], log);
  }
  const have = new Set(bondSlaves(name));
  for (const s of have) if (!conf.nics.includes(s)) await noMaster(s, log);
  for (const nic of conf.nics) if (!have.has(nic)) await enslave(nic, name, log);
  await linkUp(name, log);
}

/** Releases the slaves and deletes the bond (best effort when asked: every step is tried). */
export async function removeBond(name: string, log: Logger, bestEffort = false): Promise<void> {
  const step = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      if (!bestEffort) throw e;
      log.warn({ bond: name, err: (e as Error).message }, "bond removal step failed");
    }
  };
  for (const s of bondSlaves(name)) await step(() => noMaster(s, log));
  if (linkExists(name)) await step(() => deleteLink(name, log));
}
