/**
 * The networking tables (issue 10): logical networks, their cluster roles, vNIC profiles, MAC
 * pools, VM NICs and hosts' network attachments. Part of the `Database` in schema.ts.
 */
export interface NetworksTable {
  id: string;
  name: string;
  description: string;
  comment: string;
  data_center_id: string;
  vlan_id: number | null;
  /** 0 = the host's default. */
  mtu: number;
  /** 1 = a VM network (bridged); 0 = host-only. */
  vm: number;
  created_at: string;
}

export interface NetworkClustersTable {
  network_id: string;
  cluster_id: string;
  required: number;
  display: number;
  management: number;
}

export interface VnicProfilesTable {
  id: string;
  name: string;
  description: string;
  network_id: string;
  created_at: string;
}

export interface MacPoolsTable {
  id: string;
  name: string;
  range_from: string;
  range_to: string;
  created_at: string;
}

/** VM NICs and template NICs share a shape; `owner_id` is the VM or template. */
export interface NicsTable {
  id: string;
  owner_id: string;
  name: string;
  interface: string;
  mac: string;
  vnic_profile_id: string | null;
  linked: number;
  plugged: number;
  created_at: string;
}

export interface NetworkAttachmentsTable {
  id: string;
  host_id: string;
  network_id: string;
  nic_name: string;
  boot_protocol: string;
  address: string | null;
  netmask: string | null;
  gateway: string | null;
  created_at: string;
}
