/**
 * getNetworkCapabilities in VDSM's shape: NICs (physical, veth, dummy), bridges with their ports,
 * VLAN devices, bonds, and the logical networks this node configured, each with its IPv4
 * addresses, netmask and MTU — read from `ip -j`, never from a cache, so the engine sees the host
 * as it is.
 */
import type { NetworkCapabilities } from "@vela/protocol";
import type { NetConfig } from "./config.js";
import { addrs, defaultRoutes, type IpLink, links, netmaskOf } from "./ip.js";
import { isNic, lowerDev, topDev } from "./setup.js";
import { bondingSupported, vlanSupported } from "./vlan.js";

type DevAddr = { addr: string; netmask: string; ipv4addrs: string[]; mtu: string };

export async function networkCapabilities(running: NetConfig): Promise<NetworkCapabilities> {
  const [all, addrList, routes] = await Promise.all([links(), addrs(), defaultRoutes()]);
  const v4 = new Map(addrList.map((a) => [a.ifname, a.addr_info.filter((i) => i.family === "inet")]));
  const addrOf = (l: Pick<IpLink, "ifname" | "mtu">): DevAddr => {
    const list = v4.get(l.ifname) ?? [];
    const first = list[0];
    return {
      addr: first?.local ?? "",
      netmask: first ? netmaskOf(first.prefixlen) : "",
      ipv4addrs: list.map((i) => `${i.local}/${i.prefixlen}`),
      mtu: String(l.mtu),
    };
  };
  const caps: NetworkCapabilities = { nics: {}, bridges: {}, vlans: {}, bondings: {}, networks: {}, supports: { vlan: vlanSupported(), bonding: bondingSupported() } };
  const byName = new Map(all.map((l) => [l.ifname, l]));
  for (const l of all) {
    const kind = l.linkinfo?.info_kind;
    if (kind === "bridge") {
      const ports = all.filter((p) => p.master === l.ifname).map((p) => p.ifname).sort();
      caps.bridges[l.ifname] = { ...addrOf(l), ports, stp: "off" };
    } else if (kind === "vlan") {
      caps.vlans[l.ifname] = { ...addrOf(l), iface: l.link ?? "", vlanid: Number(l.linkinfo?.info_data?.id ?? 0) };
    } else if (kind === "bond") {
      const slaves = all.filter((p) => p.master === l.ifname).map((p) => p.ifname).sort();
      const info = l.linkinfo?.info_data ?? {};
      const opts: Record<string, string> = { mode: String(info.mode ?? "") };
      if (info.miimon !== undefined) opts.miimon = String(info.miimon);
      caps.bondings[l.ifname] = { ...addrOf(l), slaves, opts };
    } else if (isNic(l)) {
      caps.nics[l.ifname] = { ...addrOf(l), hwaddr: l.address ?? "", speed: 0 };
    }
  }
  for (const [name, a] of Object.entries(running.networks)) {
    const top = byName.get(topDev(name, a));
    if (!top) continue;
    const gw = routes.find((r) => r.dev === top.ifname)?.gateway ?? "";
    caps.networks[name] = {
      iface: top.ifname,
      bridged: a.bridged,
      ports: a.bridged ? (caps.bridges[name]?.ports ?? []) : [lowerDev(a) ?? ""],
      vlanid: a.vlan,
      ...addrOf(top),
      gateway: gw,
      bootproto4: a.bootproto,
    };
  }
  return caps;
}
