/**
 * iproute2 through the one command runner: typed reads of `ip -j` (links, addresses, routes) and
 * the few writes the network code needs. Callers pass only names that passed the protocol's
 * schemas or that this module read back from the kernel; argv is never built from a shell string.
 */
import { existsSync, readdirSync } from "node:fs";
import { run } from "../exec.js";
import type { Logger } from "../log.js";

export interface IpLink {
  ifname: string;
  address?: string;
  mtu: number;
  master?: string;
  link?: string;
  operstate?: string;
  flags: string[];
  link_type?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_kind?: string };
}

export interface IpAddrInfo {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}

export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

const TIMEOUT = 10_000;

export async function ip(args: readonly string[], log?: Logger): Promise<string> {
  return (await run(["ip", ...args], { log, timeoutMs: TIMEOUT })).stdout;
}

export async function links(): Promise<IpLink[]> {
  return JSON.parse((await ip(["-j", "-d", "link", "show"])) || "[]") as IpLink[];
}

export async function addrs(): Promise<IpAddrInfo[]> {
  return JSON.parse((await ip(["-j", "-4", "addr", "show"])) || "[]") as IpAddrInfo[];
}

export async function defaultRoutes(): Promise<IpRoute[]> {
  return JSON.parse((await ip(["-j", "-4", "route", "show", "default"])) || "[]") as IpRoute[];
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

export function isBridge(name: string): boolean {
  return existsSync(`/sys/class/net/${name}/bridge`);
}

export function bridgePorts(name: string): string[] {
  const d = `/sys/class/net/${name}/brif`;
  return existsSync(d) ? readdirSync(d).sort() : [];
}

/** "255.255.255.0" for 24. */
export function netmaskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join(".");
}
