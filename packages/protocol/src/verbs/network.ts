/**
 * Host networking verbs (VDSM's names and shapes): the host's NICs, bridges, VLANs and bonds as
 * `getNetworkCapabilities` reports them, `setupNetworks` to add/change/remove logical networks
 * (a Linux bridge named after the network, on a NIC or bond, optionally on a VLAN device) with a
 * connectivity check, and `setSafeNetworkConfig` to persist the running configuration. Also the
 * VM NIC verbs that act on a running VM: hot-plug, hot-unplug and link state (`VM.updateDevice`).
 * Every name that reaches `ip` is checked here first; results have schemas too, so the engine
 * parses what a node answers instead of trusting it.
 */
import { z } from "zod";
import { Uuid } from "../schemas.js";
import { done, out, p, verb } from "../verb.js";
import { Bool, Int } from "./common.js";
import { IfName, MacAddr, NicSpec, VmSummary } from "./vm.js";

/** A network name doubles as its bridge's name: an interface name without dots (dots mean VLAN devices). */
export const NetName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,14}$/, "not a network name (1-15 of a-z A-Z 0-9 _ -)");
export const BondName = z.string().regex(/^bond[0-9]{1,4}$/, "not a bond name (bond0..bond9999)");
export const Ipv4 = z
  .string()
  .regex(/^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/, "not an IPv4 address");
export const VlanId = Int.refine((n) => n >= 0 && n <= 4094, { message: "VLAN id out of range (0..4094)" });
export const Mtu = Int.refine((n) => n >= 68 && n <= 9000, { message: "MTU out of range (68..9000)" });

/** One network's attributes, as VDSM's setupNetworks takes them. */
export const NetworkAttrs = z
  .object({
    nic: IfName.optional(),
    bonding: BondName.optional(),
    vlan: VlanId.optional(),
    /** A VM network is bridged; a bridgeless network puts its address on the NIC/VLAN device itself. */
    bridged: Bool.default(true),
    bootproto: z.enum(["none", "dhcp"]).default("none"),
    ipaddr: Ipv4.optional(),
    prefix: Int.refine((n) => n >= 0 && n <= 32, { message: "prefix out of range (0..32)" }).optional(),
    gateway: Ipv4.optional(),
    defaultRoute: Bool.default(false),
    mtu: Mtu.optional(),
    remove: Bool.default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.remove) return;
    // a bridged network may have no uplink at all (VDSM's nicless network): a host-local bridge
    if (a.nic !== undefined && a.bonding !== undefined) ctx.addIssue({ code: "custom", message: "takes at most one of nic or bonding" });
    if (a.nic === undefined && a.bonding === undefined && !a.bridged) ctx.addIssue({ code: "custom", message: "a bridgeless network needs a nic or bonding" });
    if (a.nic === undefined && a.bonding === undefined && a.vlan !== undefined) ctx.addIssue({ code: "custom", message: "a VLAN needs a nic or bonding" });
    if (a.ipaddr !== undefined && a.prefix === undefined) ctx.addIssue({ code: "custom", message: "ipaddr needs a prefix" });
    if (a.ipaddr !== undefined && a.bootproto === "dhcp") ctx.addIssue({ code: "custom", message: "ipaddr and bootproto dhcp exclude each other" });
    if (a.gateway !== undefined && a.ipaddr === undefined) ctx.addIssue({ code: "custom", message: "gateway needs ipaddr" });
  });
export type NetworkAttrs = z.output<typeof NetworkAttrs>;

export const BondAttrs = z
  .object({
    nics: z.array(IfName).min(1).max(8).optional(),
    /** "mode=active-backup miimon=100": words of a-z 0-9 = _ - only. */
    options: z.string().max(256).regex(/^[a-z0-9_=,. -]*$/, "bond options: only a-z 0-9 = , . _ - and spaces").optional(),
    remove: Bool.default(false),
  })
  .strict();
export type BondAttrs = z.output<typeof BondAttrs>;

export const SetupOptions = z
  .object({
    /** Roll back unless a client calls (any `ping`) within connectivityTimeout seconds of the change. */
    connectivityCheck: Bool.default(false),
    connectivityTimeout: Int.refine((n) => n >= 1 && n <= 600, { message: "connectivityTimeout out of range (1..600)" }).default(120),
  })
  .strict();

const NetworksParam = z.record(NetName, NetworkAttrs).refine((r) => Object.keys(r).length <= 64, { message: "at most 64 networks per call" });
const BondingsParam = z.record(BondName, BondAttrs).refine((r) => Object.keys(r).length <= 16, { message: "at most 16 bonds per call" });

/** getNetworkCapabilities' answer. */
const DevAddr = z.object({ addr: z.string(), netmask: z.string(), ipv4addrs: z.array(z.string()), mtu: z.string() });
export const NetworkCapabilities = z.object({
  nics: z.record(z.string(), DevAddr.extend({ hwaddr: z.string(), speed: z.number() })),
  bridges: z.record(z.string(), DevAddr.extend({ ports: z.array(z.string()), stp: z.string() })),
  vlans: z.record(z.string(), DevAddr.extend({ iface: z.string(), vlanid: z.number() })),
  bondings: z.record(z.string(), DevAddr.extend({ slaves: z.array(z.string()), opts: z.record(z.string(), z.string()) })),
  networks: z.record(
    z.string(),
    z.object({
      iface: z.string(),
      bridged: z.boolean(),
      ports: z.array(z.string()),
      vlanid: z.number().optional(),
      addr: z.string(),
      netmask: z.string(),
      ipv4addrs: z.array(z.string()),
      gateway: z.string(),
      mtu: z.string(),
      bootproto4: z.string(),
    }),
  ),
  /** Vela extension: kernel features the node probed (802.1Q VLAN devices, bonding). */
  supports: z.object({ vlan: z.boolean(), bonding: z.boolean() }),
});
export type NetworkCapabilities = z.infer<typeof NetworkCapabilities>;

/** A NIC to hot-plug into a running VM: the VM's NIC definition. */
export const HotplugNicParams = z.object({ vmId: Uuid, nic: NicSpec }).strict();
export const HotunplugNicParams = z.object({ vmId: Uuid, nic: z.object({ macAddr: MacAddr }).strict() }).strict();
/** VM.updateDevice for an interface: link state (VDSM's `linkActive`). */
export const UpdateDeviceParams = z
  .object({ deviceType: z.literal("interface"), macAddr: MacAddr, linkActive: z.boolean() })
  .strict();

export const networkVerbs = {
  getNetworkCapabilities: verb("getNetworkCapabilities", "Host.getNetworkCapabilities", [], out("info", NetworkCapabilities)),
  setupNetworks: verb("setupNetworks", "Host.setupNetworks", [
    p("networks", NetworksParam.default({})),
    p("bondings", BondingsParam.default({})),
    p("options", SetupOptions.default({ connectivityCheck: false, connectivityTimeout: 120 })),
  ], done),
  setSafeNetworkConfig: verb("setSafeNetworkConfig", "Host.setSafeNetworkConfig", [], done),
  hotplugNic: verb("hotplugNic", "VM.hotplugNic", [p("params", HotplugNicParams)], out("vmList", VmSummary)),
  hotunplugNic: verb("hotunplugNic", "VM.hotunplugNic", [p("params", HotunplugNicParams)], out("vmList", VmSummary)),
  vmUpdateDevice: verb("vmUpdateDevice", "VM.updateDevice", [p("vmId", Uuid, "vmID"), p("params", UpdateDeviceParams)], out("vmList", VmSummary)),
} as const;
