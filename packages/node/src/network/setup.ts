/**
 * setupNetworks: checks a request against the host and the running configuration, then applies
 * it — removals and edits tear the old network down first (keeping VM taps to re-join the new
 * bridge), then bonds are removed, made or changed, then each network is built: optional VLAN
 * device on the NIC or bond, a bridge named after the network with the NIC/bond/VLAN device as its
 * port, MTU, a static address and default route. Any failure puts back every touched network and
 * bond as it was. Nothing from the request reaches `ip` without the protocol's schema checks plus
 * the host checks here (NIC exists and is a NIC, a bond's NICs are free, no name collision, one
 * untagged network per NIC or bond, the engine's own link is not cut).
 */
import { type BondAttrs, type NetworkAttrs, VdsmError } from "@vela/protocol";
import type { Logger } from "../log.js";
import { createBridge, deleteLink, linkUp, noMaster, setMaster, setMtu } from "./bridge.js";
import type { NetAttrs, NetConfig } from "./config.js";
import { addrs, bridgePorts, ip, isBridge, type IpLink, linkExists, links } from "./ip.js";
import { dhcpAddress } from "./dhcp.js";
import { type BondConf, bondPresent, buildBond, isBond, normaliseBondOptions, removeBond } from "./bond.js";
import { bondingSupported, createVlan, vlanDevName, vlanSupported } from "./vlan.js";

export interface SetupRequest {
  networks: Record<string, NetworkAttrs>;
  bondings: Record<string, BondAttrs>;
}

/** The NIC or bond a network sits on (none for a nicless bridge). */
export function uplink(a: NetAttrs): string | undefined {
  return a.nic ?? a.bonding;
}

/** The device a network's ports hang under: the VLAN device, else the NIC or bond (none for a nicless bridge). */
export function lowerDev(a: NetAttrs): string | undefined {
  const up = uplink(a);
  if (up === undefined) return undefined;
  return a.vlan !== undefined ? vlanDevName(up, a.vlan) : up;
}

/** The device that carries the network's address: its bridge, else the lower device. */
export function topDev(name: string, a: NetAttrs): string {
  return a.bridged ? name : (lowerDev(a) as string);
}

/** Kinds `ip -d link` reports that may serve as a network's NIC (physical has no kind). */
const NIC_KINDS = new Set([undefined, "veth", "dummy"]);

/** A bridged network without NIC or bond: a bridge only VM taps join (`vela up`'s ovirtmgmt). */
export function isNicless(a: NetAttrs): boolean {
  return a.nic === undefined && a.bonding === undefined;
}

/** An existing bridge another agent made for a nicless network: its ports are all VM taps. */
function sharedBridgeOk(name: string, byName: Map<string, IpLink>): boolean {
  return bridgePorts(name).every((p) => byName.get(p)?.linkinfo?.info_kind === "tun");
}

export function isNic(l: IpLink): boolean {
  return l.link_type !== "loopback" && NIC_KINDS.has(l.linkinfo?.info_kind);
}

function strip(a: NetworkAttrs): NetAttrs {
  const { remove: _r, ...rest } = a;
  return rest;
}

/** Which device holds the address the engine reaches this node at (none for loopback). */
async function engineLinkDev(address: string): Promise<string | undefined> {
  if (address.startsWith("127.")) return undefined;
  return (await addrs()).find((a) => a.addr_info.some((i) => i.family === "inet" && i.local === address))?.ifname;
}

/** Refuses, before anything changes, what cannot or must not be applied. */
export async function checkRequest(req: SetupRequest, running: NetConfig, engineAddress: string): Promise<void> {
  const all = await links();
  const byName = new Map(all.map((l) => [l.ifname, l]));
  const bonds = finalBonds(req, running, byName);
  const final: Record<string, NetAttrs> = { ...running.networks };
  for (const [name, a] of Object.entries(req.networks)) {
    if (a.remove) {
      if (!running.networks[name]) throw new VdsmError("ERR_BAD_BRIDGE", `network ${name} is not configured on this host`);
      const cur = running.networks[name];
      // a nicless bridge is shared with other agents: its teardown leaves it while taps remain
      if (cur.bridged && !isNicless(cur)) {
        const vms = bridgePorts(name).filter((p) => p !== lowerDev(cur));
        if (vms.length > 0) throw new VdsmError("ERR_USED_BRIDGE", `network ${name} still has ports ${vms.join(", ")} (running VMs)`);
      }
      delete final[name];
      continue;
    }
    if (isNicless(a)) {
      // a host-local bridge: several agents on one machine share it, so an uplink-less bridge
      // of that name (whatever other agents' VM taps it has) is adopted rather than refused
      if (byName.has(name) && !(isBridge(name) && sharedBridgeOk(name, byName))) {
        throw new VdsmError("ERR_USED_BRIDGE", `network ${name}: an interface named ${name} already exists on this host and is not an uplink-less bridge`);
      }
      final[name] = strip(a);
      continue;
    }
    const nic = uplink(a) as string;
    if (a.bonding !== undefined) {
      if (!bonds[a.bonding]) throw new VdsmError("ERR_BAD_BONDING", `network ${name}: no bond ${a.bonding} on this host`);
    } else {
      const dev = byName.get(nic);
      if (!dev) throw new VdsmError("ERR_BAD_NIC", `network ${name}: no interface ${nic} on this host`);
      if (!isNic(dev)) throw new VdsmError("ERR_BAD_NIC", `network ${name}: ${nic} is a ${dev.linkinfo?.info_kind ?? dev.link_type}, not a NIC`);
      const bond = Object.entries(bonds).find(([, b]) => !b.removed && b.nics.includes(nic))?.[0];
      if (bond) throw new VdsmError("ERR_USED_NIC", `network ${name}: ${nic} is a slave of bond ${bond}`);
    }
    if (a.vlan !== undefined) {
      if (!vlanSupported()) throw new VdsmError("ERR_BAD_VLAN", `network ${name}: this host's kernel has no 802.1Q VLAN support`);
      vlanDevName(nic, a.vlan);
    }
    // a bridge name collision: something not ours already has this name
    if (byName.has(name) && !(running.networks[name]?.bridged && isBridge(name))) {
      throw new VdsmError("ERR_USED_BRIDGE", `network ${name}: an interface named ${name} already exists on this host`);
    }
    final[name] = strip(a);
  }
  for (const [bond, b] of Object.entries(bonds)) {
    const user = Object.entries(final).find(([, a]) => a.bonding === bond)?.[0];
    if (b.removed && user) throw new VdsmError("ERR_BAD_BONDING", `bond ${bond} still carries network ${user}`);
    for (const nic of b.nics) {
      const user2 = Object.entries(final).find(([, a]) => a.nic === nic)?.[0];
      if (!b.removed && user2) throw new VdsmError("ERR_USED_NIC", `bond ${bond}: ${nic} carries network ${user2}`);
    }
  }
  const untagged = new Map<string, string>();
  const tagged = new Map<string, string>();
  for (const [name, a] of Object.entries(final)) {
    if (isNicless(a)) continue;
    const nic = uplink(a) as string;
    if (final[nic]) throw new VdsmError("ERR_USED_BRIDGE", `network ${nic} has the name of the NIC network ${name} uses`);
    const key = a.vlan === undefined ? nic : `${nic}.${a.vlan}`;
    const map = a.vlan === undefined ? untagged : tagged;
    const other = map.get(key);
    if (other) throw new VdsmError("ERR_USED_NIC", `networks ${other} and ${name} both want ${a.vlan === undefined ? `untagged ${nic}` : `VLAN ${a.vlan} on ${nic}`}`);
    map.set(key, name);
  }
  await checkEngineLink(req, running, engineAddress, bonds);
  // checked after the request itself, so a bad bond is named as such on any kernel
  if (Object.keys(req.bondings).length > 0 && !bondingSupported()) throw new VdsmError("ERR_BAD_BONDING", "this host's kernel has no bonding driver");
}

/**
 * Whether the request itself frees a NIC from `master` before bonds are built: the bridge of a
 * network it removes or redefines (torn down first), or a bond it removes.
 */
function freedByRequest(master: string, req: SetupRequest, running: NetConfig): boolean {
  return (req.networks[master] !== undefined && running.networks[master] !== undefined) || req.bondings[master]?.remove === true;
}

/** A bond as it will be after the request, or `removed` (its NICs are the ones it frees). */
type FinalBond = BondConf & { removed?: boolean };

/** The bonds after the request, each checked against the host: names free, NICs real and unused. */
function finalBonds(req: SetupRequest, running: NetConfig, byName: Map<string, IpLink>): Record<string, FinalBond> {
  const out: Record<string, FinalBond> = { ...(running.bondings ?? {}) };
  for (const [name, b] of Object.entries(req.bondings)) {
    const cur = running.bondings?.[name];
    if (b.remove) {
      if (!cur) throw new VdsmError("ERR_BAD_BONDING", `bond ${name} is not configured on this host`);
      out[name] = { ...cur, removed: true };
      continue;
    }
    if (!cur && byName.has(name)) throw new VdsmError("ERR_BAD_BONDING", `bond ${name}: an interface named ${name} already exists on this host`);
    const nics = b.nics ?? cur?.nics;
    if (!nics) throw new VdsmError("ERR_BAD_BONDING", `bond ${name}: a new bond needs its nics`);
    if (new Set(nics).size !== nics.length) throw new VdsmError("ERR_BAD_BONDING", `bond ${name}: a NIC is named twice`);
    for (const nic of nics) {
      const dev = byName.get(nic);
      if (!dev) throw new VdsmError("ERR_BAD_NIC", `bond ${name}: no interface ${nic} on this host`);
      if (!isNic(dev)) throw new VdsmError("ERR_BAD_NIC", `bond ${name}: ${nic} is a ${dev.linkinfo?.info_kind ?? dev.link_type}, not a NIC`);
      if (dev.master && dev.master !== name && !freedByRequest(dev.master, req, running)) {
        throw new VdsmError("ERR_USED_NIC", `bond ${name}: ${nic} is already a port of ${dev.master}`);
      }
    }
    out[name] = { nics: [...nics], options: b.options !== undefined ? normaliseBondOptions(name, b.options) : (cur?.options ?? "") };
  }
  const owner = new Map<string, string>();
  for (const [name, b] of Object.entries(out)) {
    if (b.removed) continue;
    for (const nic of b.nics) {
      const other = owner.get(nic);
      if (other) throw new VdsmError("ERR_USED_NIC", `bonds ${other} and ${name} both want ${nic}`);
      owner.set(nic, name);
    }
  }
  return out;
}

/**
 * The engine's own link: a change that would take the address the engine reaches this node at
 * away from its device (enslaving that NIC to a bridge, or deleting the bridge holding it) without
 * carrying the same address over is refused. (A change that cuts it in a way this cannot foresee
 * is caught by the connectivity check instead.)
 */
async function checkEngineLink(req: SetupRequest, running: NetConfig, engineAddress: string, bonds: Record<string, FinalBond>): Promise<void> {
  const dev = await engineLinkDev(engineAddress);
  if (!dev) return;
  for (const [name, b] of Object.entries(bonds)) {
    if (!b.removed && b.nics.includes(dev) && !running.bondings?.[name]?.nics.includes(dev)) {
      throw new VdsmError("ERR_USED_NIC", `bond ${name} would take ${dev}, the link the engine reaches this host on (${engineAddress})`);
    }
  }
  for (const [name, a] of Object.entries(req.networks)) {
    const cur = running.networks[name];
    const holdsNow = cur !== undefined && topDev(name, cur) === dev;
    const takesNic = !a.remove && a.bridged && a.vlan === undefined && uplink(a) === dev;
    if ((holdsNow || takesNic) && (a.remove || a.ipaddr !== engineAddress)) {
      throw new VdsmError("ERR_USED_NIC", `network ${name} would cut the link the engine reaches this host on (${engineAddress} on ${dev})`);
    }
  }
}

/** Removes a network's devices; returns the VM ports its bridge had, to re-join them later. */
export async function teardown(name: string, a: NetAttrs, log: Logger, bestEffort = false): Promise<string[]> {
  const step = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      if (!bestEffort) throw e;
      log.warn({ network: name, err: (e as Error).message }, "teardown step failed");
    }
  };
  const lower = lowerDev(a);
  let ports: string[] = [];
  if (lower === undefined) {
    // nicless: other agents' VMs may use the same bridge; it goes only once nothing is plugged in
    if (isBridge(name) && bridgePorts(name).length === 0) await step(() => deleteLink(name, log));
    else if (a.ipaddr && isBridge(name)) await step(() => ip(["addr", "del", `${a.ipaddr}/${a.prefix}`, "dev", name], log));
    return [];
  }
  if (a.bridged && isBridge(name)) {
    ports = bridgePorts(name).filter((p) => p !== lower);
    await step(() => deleteLink(name, log));
  }
  if (a.vlan !== undefined) {
    if (linkExists(lower)) await step(() => deleteLink(lower, log));
  } else if (linkExists(lower)) {
    if (!a.bridged && a.ipaddr) await step(() => ip(["addr", "del", `${a.ipaddr}/${a.prefix}`, "dev", lower], log));
    else if (!a.bridged && a.bootproto === "dhcp") await step(() => ip(["-4", "addr", "flush", "dev", lower], log));
    else if (a.bridged) await step(() => noMaster(lower, log));
  }
  return ports;
}

/** Where the DHCP event script lives; set once by the subsystem at start. */
let dhcpScript = "";
export function useDhcpScript(path: string): void {
  dhcpScript = path;
}

/** A nicless network: its bridge (made once, then shared), up, with its address if it has one. */
async function buildNicless(name: string, a: NetAttrs, log: Logger): Promise<void> {
  if (!isBridge(name)) {
    try {
      await createBridge(name, log);
    } catch (e) {
      // another agent on this machine made it meanwhile: that is the bridge we want
      if (!isBridge(name)) throw e;
    }
  }
  if (a.mtu !== undefined) await setMtu(name, a.mtu, log);
  await linkUp(name, log);
  if (a.ipaddr !== undefined) await ip(["addr", "replace", `${a.ipaddr}/${a.prefix}`, "dev", name], log);
}

export async function build(name: string, a: NetAttrs, ports: readonly string[], log: Logger): Promise<void> {
  if (isNicless(a)) return buildNicless(name, a, log);
  const nic = uplink(a) as string;
  await linkUp(nic, log);
  if (a.mtu !== undefined) await setMtu(nic, a.mtu, log);
  const lower = a.vlan !== undefined ? await createVlan(nic, a.vlan, log) : nic;
  if (a.mtu !== undefined && lower !== nic) await setMtu(lower, a.mtu, log);
  if (a.bridged) {
    await createBridge(name, log);
    // the NIC's own addresses would shadow the bridge's: a bridge port carries no address
    await ip(["-4", "addr", "flush", "dev", lower], log);
    await setMaster(lower, name, log);
    for (const p of ports) if (linkExists(p)) await setMaster(p, name, log);
    if (a.mtu !== undefined) await setMtu(name, a.mtu, log);
    await linkUp(name, log);
  }
  await linkUp(lower, log);
  const top = topDev(name, a);
  if (a.ipaddr !== undefined) await ip(["addr", "replace", `${a.ipaddr}/${a.prefix}`, "dev", top], log);
  if (a.bootproto === "dhcp") await dhcpAddress(top, dhcpScript, a.defaultRoute, log);
  if (a.gateway !== undefined && a.defaultRoute) await ip(["route", "replace", "default", "via", a.gateway, "dev", top], log);
}

/**
 * Applies the (checked) request to `running` in place. On failure every touched network is torn
 * down and rebuilt as it was, `running` is restored, and the error is thrown.
 */
export async function apply(req: SetupRequest, running: NetConfig, log: Logger): Promise<void> {
  const before: NetConfig = structuredClone(running);
  const touched = Object.keys(req.networks);
  const bondsTouched = Object.keys(req.bondings);
  const ports = new Map<string, string[]>();
  try {
    for (const name of touched) {
      const cur = running.networks[name];
      if (!cur) continue;
      ports.set(name, await teardown(name, cur, log));
      delete running.networks[name];
    }
    running.bondings ??= {};
    // removals first: a NIC a removed bond frees may go to a new one
    const bondOrder = Object.entries(req.bondings).sort(([, a], [, b]) => Number(b.remove) - Number(a.remove));
    for (const [name, b] of bondOrder) {
      const cur = running.bondings[name];
      if (b.remove) {
        await removeBond(name, log);
        delete running.bondings[name];
        continue;
      }
      const want: BondConf = { nics: [...(b.nics ?? cur?.nics ?? [])], options: b.options !== undefined ? normaliseBondOptions(name, b.options) : (cur?.options ?? "") };
      running.bondings[name] = want;
      await buildBond(name, want, cur, log);
    }
    for (const [name, a] of Object.entries(req.networks)) {
      if (a.remove) continue;
      running.networks[name] = strip(a);
      await build(name, strip(a), ports.get(name) ?? [], log);
    }
  } catch (e) {
    log.warn({ err: (e as Error).message }, "setupNetworks failed, rolling back");
    await restoreNetworks(touched, running, before, log, bondsTouched);
    if (e instanceof VdsmError) throw e;
    throw new VdsmError("ERR_FAILED_IFUP", (e as Error).message, { cause: e });
  }
}

/**
 * Puts the named networks and bonds back as `target` has them (best effort: every step is tried).
 * Networks on a restored bond are rebuilt with it.
 */
export async function restoreNetworks(netNames: readonly string[], running: NetConfig, target: NetConfig, log: Logger, bondNames: readonly string[] = []): Promise<void> {
  const onBonds = (c: NetConfig) => Object.keys(c.networks).filter((n) => bondNames.includes(c.networks[n]?.bonding ?? ""));
  const names = [...new Set([...netNames, ...onBonds(running), ...onBonds(target)])];
  const ports = new Map<string, string[]>();
  for (const name of names) {
    const cur = running.networks[name];
    if (cur) ports.set(name, await teardown(name, cur, log, true));
    else if (target.networks[name] && linkExists(name) && isBridge(name)) {
      // half-built by the failed step: the bridge exists though `running` never recorded it
      ports.set(name, await teardown(name, target.networks[name], log, true));
    }
    delete running.networks[name];
  }
  await restoreBonds(bondNames, running, target, log);
  for (const name of names) {
    const want = target.networks[name];
    if (!want) continue;
    try {
      await build(name, want, ports.get(name) ?? [], log);
    } catch (e) {
      log.error({ network: name, err: (e as Error).message }, "cannot restore network");
      await teardown(name, want, log, true);
      continue;
    }
    running.networks[name] = want;
  }
}

/** Brings the named bonds to `target`: removed, rebuilt from scratch, or left out when that fails. */
async function restoreBonds(names: readonly string[], running: NetConfig, target: NetConfig, log: Logger): Promise<void> {
  running.bondings ??= {};
  for (const name of names) {
    if (running.bondings[name] || isBond(name)) await removeBond(name, log, true);
    delete running.bondings[name];
    const want = target.bondings?.[name];
    if (!want) continue;
    try {
      await buildBond(name, want, undefined, log);
      running.bondings[name] = want;
    } catch (e) {
      log.error({ bond: name, err: (e as Error).message }, "cannot restore bond");
      await removeBond(name, log, true);
    }
  }
}

/** Bonds of `running` and `target` that differ or are missing from the host. */
export function staleBonds(running: NetConfig, target: NetConfig): string[] {
  const names = new Set([...Object.keys(running.bondings ?? {}), ...Object.keys(target.bondings ?? {})]);
  return [...names].filter((n) => {
    const cur = running.bondings?.[n];
    const want = target.bondings?.[n];
    return !cur || !want || JSON.stringify(cur) !== JSON.stringify(want) || !bondPresent(n, want);
  });
}

/** Whether a configured network's devices are all present (false after a reboot). */
export function present(name: string, a: NetAttrs): boolean {
  const lower = lowerDev(a);
  if (lower === undefined) return isBridge(name);
  if (!linkExists(lower)) return false;
  return !a.bridged || bridgePorts(name).includes(lower);
}
