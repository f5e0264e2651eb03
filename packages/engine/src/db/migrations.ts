/**
 * Schema migrations, provided in code (no migration files to find at run time, so start-up does
 * no directory scan). Names sort in order; a released migration is never edited, only followed.
 * Only portable column types (text, integer, bigint) so the same migrations run on PostgreSQL.
 */
import { randomUUID } from "node:crypto";
import type { Migration, MigrationProvider } from "kysely/migration";
import { BLANK_TEMPLATE_ID } from "./ids.js";
import { events } from "./migration-events.js";
import { generations } from "./migration-generations.js";
import { imageTransfers } from "./migration-transfers.js";
import { customRoles, directoryUsers, usersPermissions } from "./migration-users.js";
import { cdromsMemory } from "./migration-vms.js";
import { quotas } from "./migration-quotas.js";
import type { AnyDb } from "./migration-db.js";

const initial: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("data_centers")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("local", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("storage_format", "text", (c) => c.notNull().defaultTo("v5"))
      .addColumn("version_major", "integer", (c) => c.notNull())
      .addColumn("version_minor", "integer", (c) => c.notNull())
      .addColumn("master_domain_id", "text")
      .addColumn("master_version", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("spm_host_id", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("clusters")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("data_center_id", "text", (c) => c.references("data_centers.id"))
      .addColumn("cpu_architecture", "text", (c) => c.notNull().defaultTo("x86_64"))
      .addColumn("cpu_type", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("version_major", "integer", (c) => c.notNull())
      .addColumn("version_minor", "integer", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("hosts")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("address", "text", (c) => c.notNull())
      .addColumn("port", "integer", (c) => c.notNull())
      .addColumn("cluster_id", "text", (c) => c.notNull().references("clusters.id"))
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("spm_id", "integer", (c) => c.notNull().unique())
      .addColumn("spm_priority", "integer", (c) => c.notNull().defaultTo(5))
      .addColumn("capabilities", "text", (c) => c.notNull().defaultTo("{}"))
      .addColumn("last_seen", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("storage_domains")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("storage_type", "text", (c) => c.notNull())
      .addColumn("storage_address", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("storage_path", "text", (c) => c.notNull())
      .addColumn("mount_options", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("vfs_type", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("connection_id", "text", (c) => c.notNull())
      .addColumn("storage_format", "text", (c) => c.notNull().defaultTo("v5"))
      .addColumn("available", "bigint")
      .addColumn("used", "bigint")
      .addColumn("committed", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("host_id", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("storage_domain_attachments")
      .addColumn("data_center_id", "text", (c) => c.notNull().references("data_centers.id"))
      .addColumn("storage_domain_id", "text", (c) => c.notNull().references("storage_domains.id"))
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("master", "integer", (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint("sda_pk", ["data_center_id", "storage_domain_id"])
      .execute();

    await db.schema
      .createTable("disks")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("image_id", "text", (c) => c.notNull())
      .addColumn("storage_domain_id", "text", (c) => c.notNull().references("storage_domains.id"))
      .addColumn("alias", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("provisioned_size", "bigint", (c) => c.notNull())
      .addColumn("actual_size", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("initial_size", "bigint")
      .addColumn("format", "text", (c) => c.notNull())
      .addColumn("sparse", "integer", (c) => c.notNull())
      .addColumn("shareable", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("wipe_after_delete", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("content_type", "text", (c) => c.notNull().defaultTo("data"))
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("templates")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("cluster_id", "text")
      .addColumn("memory", "bigint", (c) => c.notNull())
      .addColumn("cpu_sockets", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("cpu_cores", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("cpu_threads", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("os_type", "text", (c) => c.notNull().defaultTo("other"))
      .addColumn("status", "text", (c) => c.notNull().defaultTo("ok"))
      .addColumn("version_number", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("vms")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("cluster_id", "text", (c) => c.notNull().references("clusters.id"))
      .addColumn("template_id", "text", (c) => c.notNull().references("templates.id"))
      .addColumn("memory", "bigint", (c) => c.notNull())
      .addColumn("cpu_sockets", "integer", (c) => c.notNull())
      .addColumn("cpu_cores", "integer", (c) => c.notNull())
      .addColumn("cpu_threads", "integer", (c) => c.notNull())
      .addColumn("os_type", "text", (c) => c.notNull())
      .addColumn("boot_devices", "text", (c) => c.notNull())
      .addColumn("kernel", "text")
      .addColumn("initrd", "text")
      .addColumn("cmdline", "text")
      .addColumn("display_type", "text", (c) => c.notNull())
      .addColumn("stateless", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("high_availability", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("run_on_host_id", "text")
      .addColumn("start_time", "text")
      .addColumn("stop_time", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("disk_attachments")
      .addColumn("vm_id", "text", (c) => c.notNull().references("vms.id"))
      .addColumn("disk_id", "text", (c) => c.notNull().references("disks.id"))
      .addColumn("interface", "text", (c) => c.notNull())
      .addColumn("bootable", "integer", (c) => c.notNull())
      .addColumn("active", "integer", (c) => c.notNull())
      .addColumn("read_only", "integer", (c) => c.notNull())
      .addColumn("pass_discard", "integer", (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint("da_pk", ["vm_id", "disk_id"])
      .execute();
    await db.schema.createIndex("da_disk").on("disk_attachments").column("disk_id").execute();

    await db.schema
      .createTable("jobs")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("description", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("action_type", "text", (c) => c.notNull())
      .addColumn("payload", "text", (c) => c.notNull().defaultTo("{}"))
      .addColumn("start_time", "text", (c) => c.notNull())
      .addColumn("end_time", "text")
      .addColumn("last_updated", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("steps")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("job_id", "text", (c) => c.notNull().references("jobs.id"))
      .addColumn("number", "integer", (c) => c.notNull())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("progress", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("task_id", "text")
      .addColumn("host_id", "text")
      .addColumn("start_time", "text", (c) => c.notNull())
      .addColumn("end_time", "text")
      .execute();
    await db.schema.createIndex("steps_job").on("steps").column("job_id").execute();
  },
};

/** The objects every oVirt installation starts with: Default data center and cluster, Blank template. */
const seed: Migration = {
  async up(db: AnyDb) {
    const at = new Date().toISOString();
    const dcId = randomUUID();
    await db
      .insertInto("data_centers")
      .values({ id: dcId, name: "Default", description: "The default Data Center", version_major: 4, version_minor: 7, created_at: at })
      .execute();
    await db
      .insertInto("clusters")
      .values({ id: randomUUID(), name: "Default", description: "The default server cluster", data_center_id: dcId, version_major: 4, version_minor: 7, created_at: at })
      .execute();
    await db
      .insertInto("templates")
      .values({ id: BLANK_TEMPLATE_ID, name: "Blank", description: "Blank template", memory: 1024 * 1024 * 1024, created_at: at })
      .execute();
  },
};

/**
 * Issue 3: volume chains (oVirt's `images`), VM snapshots, template disks, domain health, and the
 * SPM generation per data center. Existing disks get their one-volume chain and existing VMs
 * their "Active VM" snapshot, so every later query can rely on both.
 */
const chains: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("images")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("disk_id", "text", (c) => c.notNull())
      .addColumn("parent_id", "text", (c) => c.notNull())
      .addColumn("snapshot_id", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("images_disk").on("images").column("disk_id").execute();

    await db.schema
      .createTable("snapshots")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("vm_id", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("persist_memorystate", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("snapshots_vm").on("snapshots").column("vm_id").execute();

    await db.schema
      .createTable("template_disk_attachments")
      .addColumn("template_id", "text", (c) => c.notNull().references("templates.id"))
      .addColumn("disk_id", "text", (c) => c.notNull().references("disks.id"))
      .addColumn("interface", "text", (c) => c.notNull())
      .addColumn("bootable", "integer", (c) => c.notNull())
      .addColumn("read_only", "integer", (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint("tda_pk", ["template_id", "disk_id"])
      .execute();

    await db.schema.alterTable("disks").addColumn("template_id", "text").execute();
    await db.schema.alterTable("storage_domains").addColumn("external_status", "text", (c) => c.notNull().defaultTo("ok")).execute();
    await db.schema.alterTable("storage_domains").addColumn("last_check", "text").execute();
    await db.schema.alterTable("data_centers").addColumn("spm_lver", "text").execute();
    await db.schema.alterTable("data_centers").addColumn("spm_contending", "integer", (c) => c.notNull().defaultTo(0)).execute();

    const at = new Date().toISOString();
    const disks = await db.selectFrom("disks").select(["id", "image_id"]).execute();
    for (const d of disks) {
      await db.insertInto("images").values({ id: d.image_id, disk_id: d.id, parent_id: BLANK_TEMPLATE_ID, snapshot_id: null, created_at: at }).execute();
    }
    const vms = await db.selectFrom("vms").select(["id", "created_at"]).execute();
    for (const v of vms) {
      await db
        .insertInto("snapshots")
        .values({ id: randomUUID(), vm_id: v.id, description: "Active VM", type: "active", status: "ok", persist_memorystate: 0, created_at: v.created_at })
        .execute();
    }
  },
};


/** The management network every data center has, and its vNIC profile (oVirt's defaults). */
export const MANAGEMENT_NETWORK = "ovirtmgmt";
/** oVirt's default MAC pool is in 00:1a:4a; Vela's is locally administered so it never meets a vendor's. */
export const DEFAULT_MAC_POOL = { name: "Default", from: "56:6f:00:00:00:00", to: "56:6f:00:00:ff:ff" };

/**
 * Issue 10: logical networks per data center (the default `ovirtmgmt` for every existing one, on
 * every existing cluster, with its vNIC profile), vNIC profiles, MAC pools (a default pool every
 * cluster uses), VM NICs and template NICs, and the network attachments of hosts.
 */
const networks: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("networks")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("data_center_id", "text", (c) => c.notNull())
      .addColumn("vlan_id", "integer")
      .addColumn("mtu", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("vm", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("created_at", "text", (c) => c.notNull())
      .addUniqueConstraint("networks_dc_name", ["data_center_id", "name"])
      .execute();
    await db.schema
      .createTable("network_clusters")
      .addColumn("network_id", "text", (c) => c.notNull())
      .addColumn("cluster_id", "text", (c) => c.notNull())
      .addColumn("required", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("display", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("management", "integer", (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint("network_clusters_pk", ["network_id", "cluster_id"])
      .execute();
    await db.schema
      .createTable("vnic_profiles")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("network_id", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .addUniqueConstraint("vnic_profiles_net_name", ["network_id", "name"])
      .execute();
    await db.schema
      .createTable("mac_pools")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("range_from", "text", (c) => c.notNull())
      .addColumn("range_to", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.alterTable("clusters").addColumn("mac_pool_id", "text").execute();
    await db.schema.alterTable("hosts").addColumn("non_operational_reason", "text").execute();
    for (const t of ["vm_nics", "template_nics"]) {
      await db.schema
        .createTable(t)
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("owner_id", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("interface", "text", (c) => c.notNull())
        .addColumn("mac", "text", (c) => c.notNull())
        .addColumn("vnic_profile_id", "text")
        .addColumn("linked", "integer", (c) => c.notNull().defaultTo(1))
        .addColumn("plugged", "integer", (c) => c.notNull().defaultTo(1))
        .addColumn("created_at", "text", (c) => c.notNull())
        .addUniqueConstraint(`${t}_owner_name`, ["owner_id", "name"])
        .execute();
    }
    // one VM NIC per MAC address, ever: the pool never hands out a MAC twice
    await db.schema.createIndex("vm_nics_mac").on("vm_nics").column("mac").unique().execute();
    await db.schema
      .createTable("network_attachments")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("host_id", "text", (c) => c.notNull())
      .addColumn("network_id", "text", (c) => c.notNull())
      .addColumn("nic_name", "text", (c) => c.notNull())
      .addColumn("boot_protocol", "text", (c) => c.notNull().defaultTo("none"))
      .addColumn("address", "text")
      .addColumn("netmask", "text")
      .addColumn("gateway", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .addUniqueConstraint("network_attachments_host_net", ["host_id", "network_id"])
      .execute();

    const at = new Date().toISOString();
    const poolId = randomUUID();
    await db.insertInto("mac_pools").values({ id: poolId, name: DEFAULT_MAC_POOL.name, range_from: DEFAULT_MAC_POOL.from, range_to: DEFAULT_MAC_POOL.to, created_at: at }).execute();
    await db.updateTable("clusters").set({ mac_pool_id: poolId }).execute();
    for (const dc of await db.selectFrom("data_centers").select("id").execute()) {
      const netId = randomUUID();
      await db.insertInto("networks").values({ id: netId, name: MANAGEMENT_NETWORK, description: "Management Network", data_center_id: dc.id, created_at: at }).execute();
      await db.insertInto("vnic_profiles").values({ id: randomUUID(), name: MANAGEMENT_NETWORK, network_id: netId, created_at: at }).execute();
      for (const c of await db.selectFrom("clusters").select("id").where("data_center_id", "=", dc.id).execute()) {
        await db.insertInto("network_clusters").values({ network_id: netId, cluster_id: c.id, required: 1, display: 1, management: 1 }).execute();
      }
    }
  },
};

/** cloud-init `initialization` of VMs, one row per VM that has one. */
const vmInitialization: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("vm_initialization")
      .addColumn("vm_id", "text", (c) => c.primaryKey().references("vms.id"))
      .addColumn("data", "text", (c) => c.notNull())
      .execute();
  },
};

/** The key a host enrolling without the token asked a certificate for, until an administrator approves it. */
const hostEnrollments: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("host_enrollments")
      .addColumn("host_id", "text", (c) => c.primaryKey())
      .addColumn("key_sha256", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
  },
};

/**
 * One-time join tokens (`vela join-token`): a node that presents one is trusted once, and the
 * token is then bound to that host (the same host may present it again, e.g. on restart; another
 * may not). Only a hash of the token is kept.
 */
const joinTokens: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("join_tokens")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_sha256", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("expires_at", "text", (c) => c.notNull())
      .addColumn("used_at", "text")
      .addColumn("used_by", "text")
      .execute();
  },
};

const migrations: Record<string, Migration> = {
  "0001_initial": initial,
  "0002_seed": seed,
  "0003_chains_snapshots_templates": chains,
  "0004_vm_initialization": vmInitialization,
  "0005_networks": networks,
  "0006_events": events,
  "0007_users_permissions": usersPermissions,
  "0009_host_enrollments": hostEnrollments,
  "0010_join_tokens": joinTokens,
  "0012_cdroms_memory": cdromsMemory,
  "0013_image_transfers": imageTransfers,
  "0014_custom_roles_host_certificates": customRoles,
  "0017_generations": generations,
  "0020_quotas": quotas,
  "0022_directory_users": directoryUsers,
};

export const provider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
