/**
 * The management network on a host, as oVirt's engine sets it up when a host is added or comes
 * up: if the host lacks its cluster's management network (ovirtmgmt), the engine asks the node
 * for it through the normal setupNetworks path, makes it safe (setSafeNetworkConfig) and records
 * the attachment. Where the network goes:
 * - a host the engine reaches on a loopback address (`vela up`'s local hosts) gets a host-local
 *   bridge without an uplink: VMs on this machine reach each other over it, and a developer
 *   machine's real uplink is never moved into a bridge. Several `vela up` on one machine share
 *   that bridge (the node adopts it; see node/network/setup.ts);
 * - any other host is left alone (its uplink carries the engine's connection: putting it under a
 *   bridge is the administrator's `setupnetworks`, as the README says).
 */
import { randomUUID } from "node:crypto";
import { now } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { networksOfCluster } from "../db/repo/networks.js";

/** Whether the engine reaches the host on a loopback address (a host on the engine's machine). */
export function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address === "localhost";
}

export async function ensureManagementNetwork(e: Engine, hostId: string): Promise<void> {
  const host = await e.db.selectFrom("hosts").selectAll().where("id", "=", hostId).executeTakeFirstOrThrow();
  if (!isLoopback(host.address)) return;
  const [mgmt] = await networksOfCluster(e, host.cluster_id, { management: true });
  if (mgmt?.vm !== 1) return;
  const client = e.nodes.for(host);
  const caps = await client.call("getNetworkCapabilities", {});
  if (caps.networks[mgmt.name]) return;
  let release: () => void;
  try {
    release = e.locks.acquire([`host:${host.id}:networks`], "set up the management network");
  } catch {
    return; // an administrator's setupnetworks runs: the next poll looks again
  }
  try {
    await client.call("setupNetworks", {
      networks: { [mgmt.name]: { bridged: true, mtu: mgmt.mtu || undefined } },
      bondings: {},
      options: { connectivityCheck: false, connectivityTimeout: 120 },
    });
    await client.call("setSafeNetworkConfig", {});
    await e.db.deleteFrom("network_attachments").where("host_id", "=", host.id).where("network_id", "=", mgmt.id).execute();
    // no host NIC: the bridge has no uplink (nic_name empty)
    await e.db
      .insertInto("network_attachments")
      .values({ id: randomUUID(), host_id: host.id, network_id: mgmt.id, nic_name: "", boot_protocol: "none", address: null, netmask: null, gateway: null, created_at: now() })
      .execute();
    e.log.info({ host: host.name, network: mgmt.name }, "management network set up as a host-local bridge without uplink");
  } finally {
    release();
  }
}
