/**
 * cloud-init for VMs: oVirt's `initialization` (host name, user and password, SSH keys, NIC
 * configurations, DNS, custom script), validated strictly, stored per VM, and turned at start into
 * a NoCloud `cidata` payload (meta-data, user-data, network-config v1) that the node writes as a
 * seed disk — what Debian/Ubuntu cloud images and Vela's tiny image read.
 *
 * Safety of the seed: every value is checked against what its field may hold (host names, user
 * names, addresses, SSH keys by their shapes; free text without control characters), and every
 * string written into YAML is emitted as a JSON string (a valid YAML double-quoted scalar), so no
 * value can add keys or documents. The custom script goes into its own MIME part under a random
 * boundary it does not contain. Passwords are never logged and never shown by the API.
 */
import { randomBytes } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { Bool, Enum } from "../input/input.js";
import type { Engine } from "../engine.js";

const HOST_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HostName = z
  .string()
  .max(253, "longer than 253 characters")
  .regex(new RegExp(`^${HOST_LABEL}(\\.${HOST_LABEL})*$`), "not a host name (letters, digits, hyphens and dots)");
const UserName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "not a user name (lower-case letters, digits, _ and -; at most 32)");
// C0/C1 controls, and what YAML 1.1 (PyYAML, as cloud-init uses it) takes as line breaks (NEL,
// U+2028/2029) or refuses as non-printable (BOM, U+FFFE/FFFF): none may reach the seed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
const NO_CONTROL = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]*$/;
const Password = z.string().min(1, "must not be empty").max(256, "longer than 256 characters").regex(NO_CONTROL, "contains control characters");
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters in the comment
const SSH_KEY = /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]{0,255})?$/;
const SshKeys = z
  .string()
  .max(16384, "longer than 16384 characters")
  .transform((s, ctx) => {
    const keys = s
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "");
    const bad = keys.findIndex((k) => !SSH_KEY.test(k));
    if (bad >= 0) {
      ctx.addIssue({ code: "custom", message: `line ${bad + 1} is not an SSH public key (type, base64 key, optional comment)` });
      return z.NEVER;
    }
    return keys;
  });
// biome-ignore lint/suspicious/noControlCharactersInRegex: scripts keep tabs and line ends only
const Script = z.string().max(32768, "longer than 32768 characters").regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]*$/, "contains control characters other than tab and line ends");
const Ipv4 = z.string().refine((s) => isIPv4(s), "not an IPv4 address");
const Netmask = z.string().refine((s) => /^([0-9]|[12][0-9]|3[0-2])$/.test(s) || (isIPv4(s) && maskPrefix(s) !== undefined), "not a netmask (dotted or a prefix length 0..32)");
const Words = (check: (w: string) => boolean, what: string) =>
  z
    .string()
    .max(1024, "longer than 1024 characters")
    .transform((s, ctx) => {
      const ws = s.split(/[\s,]+/).filter((w) => w !== "");
      const bad = ws.find((w) => !check(w));
      if (bad !== undefined) {
        ctx.addIssue({ code: "custom", message: `'${bad.slice(0, 60)}' is not ${what}` });
        return z.NEVER;
      }
      return ws;
    });
const IfName = z.string().regex(/^[a-z][a-z0-9]{0,14}$/, "not an interface name (eth0, ens3, …)");

const NicConfiguration = z
  .object({
    name: IfName,
    boot_protocol: Enum(["none", "dhcp", "static", "autoconf"]).optional(),
    on_boot: Bool.optional(),
    ip: z.object({ address: Ipv4.optional(), netmask: Netmask.optional(), gateway: Ipv4.optional(), version: Enum(["v4"]).optional() }).optional(),
  })
  .superRefine((n, ctx) => {
    if (n.boot_protocol === "static" && (!n.ip?.address || !n.ip.netmask)) {
      ctx.addIssue({ code: "custom", message: `nic ${n.name}: a static boot_protocol needs ip.address and ip.netmask` });
    }
  });
type NicConfiguration = z.output<typeof NicConfiguration>;

/** `{"nic_configuration": [...]}` (oVirt JSON/XML), one item, or a bare array. */
const NicConfigurations = z
  .union([z.array(NicConfiguration), z.object({ nic_configuration: z.union([NicConfiguration, z.array(NicConfiguration)]) })])
  .transform((v) => (Array.isArray(v) ? v : Array.isArray(v.nic_configuration) ? v.nic_configuration : [v.nic_configuration]))
  .refine((l) => l.length <= 8, "at most 8 nic configurations")
  .refine((l) => new Set(l.map((n) => n.name)).size === l.length, "a nic is configured twice");

/** oVirt's `initialization`, as accepted on add/update/start. */
export const Initialization = z.object({
  host_name: HostName.optional(),
  user_name: UserName.optional(),
  root_password: Password.optional(),
  authorized_ssh_keys: SshKeys.optional(),
  custom_script: Script.optional(),
  dns_servers: Words((w) => isIPv4(w) || isIPv6(w), "an IP address").optional(),
  dns_search: Words((w) => HostName.safeParse(w).success, "a domain name").optional(),
  nic_configurations: NicConfigurations.optional(),
  // Accepted because oVirt clients send them; Vela's seed has no use for them.
  cloud_init_network_protocol: z.string().max(32).optional(),
  regenerate_ssh_keys: Bool.optional(),
  timezone: z.string().max(64).regex(/^[A-Za-z0-9_+/-]*$/, "not a time zone").optional(),
});
export type Initialization = z.output<typeof Initialization>;

/** The stored form: the validated output, SSH keys and DNS as lists. */
export interface Stored {
  host_name?: string;
  user_name?: string;
  root_password?: string;
  authorized_ssh_keys?: string[];
  custom_script?: string;
  dns_servers?: string[];
  dns_search?: string[];
  nic_configurations?: NicConfiguration[];
}

function maskPrefix(mask: string): number | undefined {
  const n = mask.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const bits = n.toString(2).padStart(32, "0");
  return /^1*0*$/.test(bits) ? bits.indexOf("0") === -1 ? 32 : bits.indexOf("0") : undefined;
}

function prefixMask(prefix: number): string {
  const n = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

export async function loadInitialization(e: Engine, vmId: string): Promise<Stored | undefined> {
  const row = await e.db.selectFrom("vm_initialization").select("data").where("vm_id", "=", vmId).executeTakeFirst();
  return row ? (JSON.parse(row.data) as Stored) : undefined;
}

export async function saveInitialization(e: Engine, vmId: string, init: Initialization | undefined): Promise<void> {
  await e.db.deleteFrom("vm_initialization").where("vm_id", "=", vmId).execute();
  if (init === undefined) return;
  const { cloud_init_network_protocol: _p, regenerate_ssh_keys: _r, timezone: _t, ...kept } = init;
  await e.db.insertInto("vm_initialization").values({ vm_id: vmId, data: JSON.stringify(kept) }).execute();
}

/** A YAML double-quoted scalar: JSON's string syntax is a subset of it. */
const q = (s: string) => JSON.stringify(s);

function cloudConfig(s: Stored): string {
  const user = s.user_name ?? "root";
  const lines = ["#cloud-config"];
  if (s.host_name) {
    lines.push(`hostname: ${q(s.host_name.split(".")[0] as string)}`);
    if (s.host_name.includes(".")) lines.push(`fqdn: ${q(s.host_name)}`);
  }
  if (user === "root") lines.push("disable_root: false");
  if (s.root_password) lines.push("ssh_pwauth: true");
  if (user !== "root" || s.authorized_ssh_keys?.length) {
    lines.push("users:", `  - name: ${q(user)}`, "    lock_passwd: false");
    if (s.authorized_ssh_keys?.length) lines.push("    ssh_authorized_keys:", ...s.authorized_ssh_keys.map((k) => `      - ${q(k)}`));
  }
  if (s.root_password) {
    lines.push("chpasswd:", "  expire: false", "  users:", `    - name: ${q(user)}`, `      password: ${q(s.root_password)}`, '      type: "text"');
  }
  return `${lines.join("\n")}\n`;
}

function networkConfig(s: Stored): string | undefined {
  const nics = (s.nic_configurations ?? []).filter((n) => n.boot_protocol === "static" || n.boot_protocol === "dhcp");
  if (!nics.length && !s.dns_servers?.length) return undefined;
  const lines = ["version: 1", "config:"];
  for (const n of nics) {
    lines.push("  - type: physical", `    name: ${q(n.name)}`, "    subnets:");
    if (n.boot_protocol === "dhcp") lines.push("      - type: dhcp");
    else {
      const mask = n.ip!.netmask!;
      lines.push("      - type: static", `        address: ${q(n.ip!.address!)}`, `        netmask: ${q(/^\d+$/.test(mask) ? prefixMask(Number(mask)) : mask)}`);
      if (n.ip?.gateway) lines.push(`        gateway: ${q(n.ip.gateway)}`);
    }
  }
  if (s.dns_servers?.length) {
    lines.push("  - type: nameserver", "    address:", ...s.dns_servers.map((a) => `      - ${q(a)}`));
    if (s.dns_search?.length) lines.push("    search:", ...s.dns_search.map((d) => `      - ${q(d)}`));
  }
  return `${lines.join("\n")}\n`;
}

/** user-data: cloud-config alone, or MIME multipart with the custom script as its own part. */
function userData(s: Stored): string {
  const config = cloudConfig(s);
  if (!s.custom_script) return config;
  let script = s.custom_script.replace(/\r\n/g, "\n");
  if (!script.endsWith("\n")) script += "\n";
  const isConfig = script.startsWith("#cloud-config");
  if (!isConfig && !script.startsWith("#!")) script = `#!/bin/sh\n${script}`;
  let boundary: string;
  do boundary = `==vela-${randomBytes(12).toString("hex")}==`;
  while (script.includes(boundary) || config.includes(boundary));
  const part = (type: string, name: string, body: string) =>
    [`--${boundary}`, `Content-Type: ${type}; charset="utf-8"`, "MIME-Version: 1.0", `Content-Disposition: attachment; filename="${name}"`, "", body].join("\n");
  return [
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "MIME-Version: 1.0",
    "",
    part("text/cloud-config", "cloud-config.txt", config),
    part(isConfig ? "text/cloud-config" : "text/x-shellscript", isConfig ? "custom-config.txt" : "custom-script.sh", script),
    `--${boundary}--`,
    "",
  ].join("\n");
}

/** The NoCloud files for a VM, as the node's payload (`cidata`). */
export function cloudInitPayload(vmId: string, s: Stored): { volId: string; files: Record<string, string> } {
  const meta = [`instance-id: ${q(vmId)}`];
  if (s.host_name) meta.push(`local-hostname: ${q(s.host_name)}`);
  const files: Record<string, string> = { "meta-data": `${meta.join("\n")}\n`, "user-data": userData(s) };
  const net = networkConfig(s);
  if (net) files["network-config"] = net;
  return { volId: "cidata", files };
}

/** The stored form of an initialization given on start (not saved). */
export function asStored(init: Initialization): Stored {
  const { cloud_init_network_protocol: _p, regenerate_ssh_keys: _r, timezone: _t, ...kept } = init;
  return kept;
}
