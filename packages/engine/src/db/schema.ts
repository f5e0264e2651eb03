/**
 * The engine database, as Kysely sees it. Column types are portable between SQLite and
 * PostgreSQL: booleans are 0/1 integers, times are ISO-8601 text, sizes are bigint (read back
 * through `num()` because PostgreSQL drivers return bigint as a string).
 * Rows are the engine's configuration truth; runtime state (VM/host status) is what nodes report.
 */
import type { Generated, Insertable, Selectable, Updateable } from "kysely";
import type { NetworksTable, NetworkClustersTable, VnicProfilesTable, MacPoolsTable, NicsTable, NetworkAttachmentsTable } from "./schema-networks.js";
import type { QuotaLimitsTable, QuotasTable } from "./schema-quotas.js";

export type { NetworksTable, NetworkClustersTable, VnicProfilesTable, MacPoolsTable, NicsTable, NetworkAttachmentsTable };
export type { QuotaLimitsTable, QuotasTable };

export interface DataCentersTable {
  id: string;
  name: string;
  description: string;
  comment: string;
  local: number;
  storage_format: string;
  version_major: number;
  version_minor: number;
  /** The pool's master domain; null = no pool yet (status uninitialized). */
  master_domain_id: string | null;
  master_version: number;
  /** Host holding the SPM role, as last confirmed by getSpmStatus. */
  spm_host_id: string | null;
  /** The pool's SPM generation (LVER) as getSpmStatus last reported it. */
  spm_lver: string | null;
  /** 1 while an SPM election is under way (the data center shows `contend`). */
  spm_contending: number;
  created_at: string;
  /** disabled | audit | enabled (migration 0020, quotas/). */
  quota_mode: string;
}

export interface ClustersTable {
  id: string;
  name: string;
  description: string;
  comment: string;
  data_center_id: string | null;
  cpu_architecture: string;
  cpu_type: string;
  version_major: number;
  version_minor: number;
  created_at: string;
  /** The MAC pool the cluster's VM NICs take addresses from. */
  mac_pool_id: string | null;
  /** memory_policy.ballooning: the node's policy may inflate the VMs' balloons (0/1). */
  ballooning: number;
  /** memory_policy.over_commit.percent: memory the cluster's VMs may get, in % of a host's. */
  over_commit_percent: number;
  /** ksm.enabled (0/1): the hosts merge identical pages. */
  ksm: number;
}

export interface HostsTable {
  id: string;
  name: string;
  description: string;
  comment: string;
  address: string;
  port: number;
  cluster_id: string;
  status: string;
  /** The host id used in the pool (VDSM's hostID for connectStoragePool and leases), 1..2000. */
  spm_id: number;
  spm_priority: number;
  /** JSON of the capabilities the node sent at registration / getVdsCapabilities. */
  capabilities: string;
  last_seen: string | null;
  created_at: string;
  /** Why the host is non_operational (e.g. a required network is missing), shown as status_detail. */
  non_operational_reason: Generated<string | null>;
}

export interface StorageDomainsTable {
  id: string;
  name: string;
  description: string;
  comment: string;
  /** data | iso | export */
  type: string;
  /** nfs | localfs | posixfs */
  storage_type: string;
  storage_address: string;
  storage_path: string;
  mount_options: string;
  vfs_type: string;
  /** Id of the storage server connection handed to connectStorageServer. */
  connection_id: string;
  storage_format: string;
  available: number | null;
  used: number | null;
  committed: number;
  /** Host that created it (used to reach the storage before it is attached). */
  host_id: string | null;
  /** ok | error: what the hosts' domain monitors last said (error = not valid on the SPM). */
  external_status: string;
  /** When a host's domain monitor last checked it (ISO-8601), as reported. */
  last_check: string | null;
  created_at: string;
}

/** A domain attached to a data center (oVirt's storage_pool_iso_map), with its status there. */
export interface StorageDomainAttachmentsTable {
  data_center_id: string;
  storage_domain_id: string;
  status: string;
  master: number;
}

export interface DisksTable {
  /** The image UUID. */
  id: string;
  /** The leaf volume UUID. */
  image_id: string;
  storage_domain_id: string;
  alias: string;
  description: string;
  provisioned_size: number;
  actual_size: number;
  initial_size: number | null;
  /** cow | raw */
  format: string;
  sparse: number;
  shareable: number;
  wipe_after_delete: number;
  /** ok | locked | illegal */
  status: string;
  content_type: string;
  /** Set when the disk belongs to a template (its volume is SHARED). */
  template_id: string | null;
  created_at: string;
  /** The quota the disk consumes storage from (null: the data center's default). */
  quota_id: string | null;
}

/**
 * One volume of a disk's chain (oVirt's `images`). The disk's leaf is `disks.image_id` and has
 * no snapshot; a volume frozen by a VM snapshot records that snapshot. `parent_id` is the blank
 * UUID for a base volume, or a volume of this disk, or a template disk's SHARED volume.
 */
export interface ImagesTable {
  id: string;
  disk_id: string;
  parent_id: string;
  snapshot_id: string | null;
  created_at: string;
}

/** A VM snapshot. Each VM has one `active` snapshot (the running state, "Active VM"). */
export interface SnapshotsTable {
  id: string;
  vm_id: string;
  description: string;
  /** active | regular | preview */
  type: string;
  /** ok | locked | in_preview */
  status: string;
  persist_memorystate: number;
  created_at: string;
}

export interface TemplateDiskAttachmentsTable {
  template_id: string;
  disk_id: string;
  interface: string;
  bootable: number;
  read_only: number;
}

export interface VmsTable {
  id: string;
  name: string;
  description: string;
  comment: string;
  cluster_id: string;
  template_id: string;
  memory: number;
  cpu_sockets: number;
  cpu_cores: number;
  cpu_threads: number;
  os_type: string;
  /** JSON array of boot devices (hd, cdrom, network). */
  boot_devices: string;
  kernel: string | null;
  initrd: string | null;
  cmdline: string | null;
  display_type: string;
  stateless: number;
  high_availability: number;
  /** Runtime state as last reported by a node. */
  status: string;
  run_on_host_id: string | null;
  start_time: string | null;
  stop_time: string | null;
  created_at: string;
  /** The CD-ROM's ISO file for the next start (file name in a domain's ISO directory), or null. */
  cdrom_file: string | null;
  cdrom_domain_id: string | null;
  /** The medium in the running VM's drive (null file: empty). */
  cdrom_current_file: string | null;
  cdrom_current_domain_id: string | null;
  /** memory_policy.ballooning (0/1): the VM gets a balloon device. */
  ballooning: number;
  /** The quota the VM consumes vCPUs and memory from while it runs (null: the data center's default). */
  quota_id: string | null;
}

export interface DiskAttachmentsTable {
  vm_id: string;
  disk_id: string;
  interface: string;
  bootable: number;
  active: number;
  read_only: number;
  pass_discard: number;
}

export interface TemplatesTable {
  id: string;
  name: string;
  description: string;
  comment: string;
  cluster_id: string | null;
  memory: number;
  cpu_sockets: number;
  cpu_cores: number;
  cpu_threads: number;
  os_type: string;
  status: string;
  version_number: number;
  created_at: string;
}

export interface JobsTable {
  id: string;
  description: string;
  /** started | finished | failed | aborted */
  status: string;
  /** Command that owns the job, for recovery after a restart. */
  action_type: string;
  /** JSON the command needs to finish the job after a restart. */
  payload: string;
  start_time: string;
  end_time: string | null;
  last_updated: string;
}

export interface StepsTable {
  id: string;
  job_id: string;
  number: number;
  /** validating | executing | finalizing */
  type: string;
  description: string;
  status: string;
  progress: number;
  /** Node task driving this step, and the host that runs it. */
  task_id: string | null;
  host_id: string | null;
  start_time: string;
  end_time: string | null;
}

/** A VM's cloud-init configuration (oVirt's `initialization`), validated, as JSON. */
export interface VmInitializationTable {
  vm_id: string;
  /** JSON of the validated initialization, root_password included (never shown by the API). */
  data: string;
}

/** A pending enrollment: the SHA-256 of the public key a host asked a certificate for. */
export interface HostEnrollmentsTable {
  host_id: string;
  key_sha256: string;
  created_at: string;
}

/** One-time join tokens: the token's SHA-256 (hex), never the token. */
export interface JoinTokensTable {
  id: string;
  token_sha256: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** The host (id) that used it: only that host may present it again. */
  used_by: string | null;
}

/**
 * Users: of the internal domain, `name` is the principal (alice) and the user name name@internal;
 * of a directory (users/directory.ts), `name` is the whole user name (alice@corp), so names of
 * different domains never collide.
 */
export interface UsersTable {
  id: string;
  name: string;
  /** `internal`, or the directory's profile name (migration 0022). */
  domain: string;
  /** A directory entry's entryUUID; null for internal users. */
  external_id: string | null;
  /** scrypt hash (users/password.ts); null for admin@internal, whose password is configuration. */
  password_hash: string | null;
  first_name: string;
  last_name: string;
  email: string;
  created_at: string;
}

/** Groups; a directory group's `name` is cn@profile, as for users. */
export interface GroupsTable {
  id: string;
  name: string;
  domain: string;
  /** A directory group's entryUUID; null for internal groups. */
  external_id: string | null;
  created_at: string;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
}

/** A role given to a user or a group on one object (object_type "system": everything). */
/** A node certificate the engine CA signed (serial as openssl prints it, upper-case hex). */
export interface HostCertificatesTable {
  serial: string;
  host_id: string;
  issued_at: string;
  /** Set when the host was removed: the certificate is refused from then on. */
  revoked_at: string | null;
}

/** A custom role (predefined roles are code: permissions/roles.ts). */
export interface RolesTable {
  id: string;
  name: string;
  description: string;
  administrative: number;
  /** JSON array of action group names. */
  permits: string;
  created_at: string;
}

export interface PermissionsTable {
  id: string;
  role_id: string;
  user_id: string | null;
  group_id: string | null;
  object_type: string;
  object_id: string;
  created_at: string;
}

/** The audit log (`/events`); ids increase. */
export interface EventsTable {
  id: number;
  code: number;
  severity: "normal" | "warning" | "error" | "alert";
  description: string;
  time: string;
  vm_id: string | null;
  host_id: string | null;
  storage_domain_id: string | null;
  data_center_id: string | null;
  cluster_id: string | null;
  correlation_id: string | null;
  /** The user whose API request caused the event; null for monitoring. */
  user_id: string | null;
}

/** oVirt's image transfers: one upload into or download out of a disk through a node's ticket. */
export interface ImageTransfersTable {
  id: string;
  disk_id: string;
  /** The volume the ticket names (the disk's leaf, or a snapshot's volume for a download). */
  image_id: string;
  host_id: string;
  /** upload | download */
  direction: string;
  /** raw | cow: the format of the bytes the client sends or receives */
  format: string;
  /** oVirt's ImageTransferPhase (initializing, transferring, finalizing_success, finished_success, …) */
  phase: string;
  /** The ticket id (the data path's capability): random, never shown to users who cannot see the transfer. */
  ticket: string;
  /** Bytes the data path may carry (upload limit, download size), as the node reported. */
  size: number;
  transferred: number;
  inactivity_timeout: number;
  /** The disk's status before the transfer locked it, restored when it ends without changing the disk. */
  disk_status_before: string;
  job_id: string | null;
  /** Why the transfer failed, for the client. */
  message: string | null;
  created_at: string;
  last_updated: string;
}

export interface Database {
  quotas: QuotasTable;
  quota_limits: QuotaLimitsTable;
  image_transfers: ImageTransfersTable;
  host_enrollments: HostEnrollmentsTable;
  join_tokens: JoinTokensTable;
  data_centers: DataCentersTable;
  clusters: ClustersTable;
  hosts: HostsTable;
  storage_domains: StorageDomainsTable;
  storage_domain_attachments: StorageDomainAttachmentsTable;
  disks: DisksTable;
  vms: VmsTable;
  disk_attachments: DiskAttachmentsTable;
  templates: TemplatesTable;
  jobs: JobsTable;
  steps: StepsTable;
  images: ImagesTable;
  snapshots: SnapshotsTable;
  template_disk_attachments: TemplateDiskAttachmentsTable;
  networks: NetworksTable;
  network_clusters: NetworkClustersTable;
  vnic_profiles: VnicProfilesTable;
  mac_pools: MacPoolsTable;
  vm_nics: NicsTable;
  template_nics: NicsTable;
  network_attachments: NetworkAttachmentsTable;
  vm_initialization: VmInitializationTable;
  users: UsersTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  permissions: PermissionsTable;
  roles: RolesTable;
  host_certificates: HostCertificatesTable;
  events: EventsTable;
  /** Migration 0017: generation numbers bumped by triggers (migration-generations.ts). */
  generations: { name: string; n: number };
}

export type DataCenter = Selectable<DataCentersTable>;
export type Cluster = Selectable<ClustersTable>;
export type Host = Selectable<HostsTable>;
export type StorageDomain = Selectable<StorageDomainsTable>;
export type StorageDomainAttachment = Selectable<StorageDomainAttachmentsTable>;
export type Disk = Selectable<DisksTable>;
export type Vm = Selectable<VmsTable>;
export type EngineEvent = Selectable<EventsTable>;
export type DiskAttachment = Selectable<DiskAttachmentsTable>;
export type Template = Selectable<TemplatesTable>;
export type Job = Selectable<JobsTable>;
export type ImageTransfer = Selectable<ImageTransfersTable>;
export type Step = Selectable<StepsTable>;
export type Image = Selectable<ImagesTable>;
export type Snapshot = Selectable<SnapshotsTable>;
export type TemplateDiskAttachment = Selectable<TemplateDiskAttachmentsTable>;
export type Network = Selectable<NetworksTable>;
export type NetworkCluster = Selectable<NetworkClustersTable>;
export type VnicProfile = Selectable<VnicProfilesTable>;
export type MacPool = Selectable<MacPoolsTable>;
export type Nic = Selectable<NicsTable>;
export type NetworkAttachment = Selectable<NetworkAttachmentsTable>;
export type User = Selectable<UsersTable>;
export type Group = Selectable<GroupsTable>;
export type Permission = Selectable<PermissionsTable>;
export type Quota = Selectable<QuotasTable>;
export type QuotaLimit = Selectable<QuotaLimitsTable>;
export type NewVm = Insertable<VmsTable>;
export type VmUpdate = Updateable<VmsTable>;
export type { Generated };

/** bigint columns come back as strings from PostgreSQL drivers. */
export function num(v: number | string | bigint | null): number {
  return v === null ? 0 : Number(v);
}

export function now(): string {
  return new Date().toISOString();
}
