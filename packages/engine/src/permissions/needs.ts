/**
 * What every API route needs, declared per route ("METHOD path" as in the route table): a read of
 * an object or collection, or an action group on an object named by a path parameter, by the
 * body (the cluster a VM is created in), or on the system. A route with no entry here is refused
 * to everyone but system-wide SuperUsers (and test/permissions.test.ts requires an entry for each).
 */
import type { Call } from "../api/call.js";
import { EMPTY_TOP_COLLECTIONS } from "../api/empty-collections.js";
import type { Engine } from "../engine.js";
import { diskOfTransfer } from "../db/repo/transfers.js";
import type { ActionGroup } from "./roles.js";
import { type ObjectType, type ObjRef, SYSTEM } from "./tree.js";

export type Need =
  /** Any authenticated user (the API root, the role list). */
  | { open: true }
  /** A top-level collection: the admin view needs an administrative role; the user view lists what the user sees. */
  | { list: ObjectType; item: string }
  /** An object (or something under it): the user view needs to see it (404 otherwise). */
  | { view: ObjectType; param: string; items?: { item: string; type: ObjectType } }
  /** The audit log: the admin view needs an administrative role; the user view shows the events of objects the user sees. */
  | { events: "list" | "one" }
  /** Administrators only, in either view (jobs, MAC pools, users). */
  | { admin: true }
  /** An administrative role held on the system itself: figures of every object at once (/metrics). */
  | { systemAdmin: true }
  /** An action group on an object. */
  | { act: ActionGroup; on: (e: Engine, c: Call) => Promise<ObjRef> | ObjRef; owner?: Owner; removes?: boolean };

/** The role the creator of a new object is given on it (oVirt makes the creator its manager). */
export interface Owner {
  role: string;
  type: ObjectType;
}

/** A removal: the object's permissions go with it. */
const removing = (n: Need): Need => ("act" in n ? { ...n, removes: true } : n);
const owning = (n: Need, role: string, type: ObjectType): Need => ("act" in n ? { ...n, owner: { role, type } } : n);

const list = (t: ObjectType, item: string): Need => ({ list: t, item });
const view = (t: ObjectType, param = "id"): Need => ({ view: t, param });
/** An object's sub-collection whose items the user view filters too (a data center's clusters). */
const viewItems = (t: ObjectType, item: string, type: ObjectType): Need => ({ view: t, param: "id", items: { item, type } });
const admin: Need = { admin: true };
const open: Need = { open: true };
const onParam = (act: ActionGroup, type: ObjectType, param = "id"): Need => ({ act, on: (_e, c) => ({ type, id: c.params[param] ?? "" }) });
const onSystem = (act: ActionGroup): Need => ({ act, on: () => SYSTEM });

/** The object a body's reference (`{"cluster": {"id"|"name"}}`) names; the system when it names none. */
function fromBody(act: ActionGroup, field: string, type: ObjectType, table: "clusters" | "data_centers" | "networks" | "vms"): Need {
  return {
    act,
    on: async (e, c) => {
      const v = c.body?.value?.[field];
      if (!v || typeof v !== "object" || Array.isArray(v)) return SYSTEM;
      const { id, name } = v as { id?: unknown; name?: unknown };
      if (typeof id === "string") return { type, id };
      if (typeof name !== "string") return SYSTEM;
      const row = await e.db.selectFrom(table).select("id").where("name", "=", name).executeTakeFirst();
      return row ? { type, id: row.id } : SYSTEM;
    },
  };
}

/** The disk a new image transfer names (by disk, or by its volume as `image`); the system when none. */
async function transferBodyDisk(e: Engine, c: Call): Promise<ObjRef> {
  const v = c.body?.value;
  const pick = (f: string): string | undefined => {
    const o = v?.[f];
    const id = o && typeof o === "object" && !Array.isArray(o) ? (o as { id?: unknown }).id : undefined;
    return typeof id === "string" ? id.toLowerCase() : undefined;
  };
  const disk = pick("disk");
  if (disk) return { type: "disk", id: disk };
  const vol = pick("image") ?? pick("snapshot");
  const row = vol ? await e.db.selectFrom("images").select("disk_id").where("id", "=", vol).executeTakeFirst() : undefined;
  return row ? { type: "disk", id: row.disk_id } : SYSTEM;
}

/** The disk an image transfer moves data of; the system when the transfer is unknown (then 404). */
async function transferDisk(e: Engine, c: Call): Promise<ObjRef> {
  const disk = await diskOfTransfer(e, (c.params.id ?? "").toLowerCase());
  return disk ? { type: "disk", id: disk } : SYSTEM;
}

/** Read-only sub-collections of an object (empty today): seen by whoever sees the object. */
function emptyUnder(parent: string, type: ObjectType, names: string[]): Record<string, Need> {
  return Object.fromEntries(names.map((n) => [`GET ${parent}/${n}`, view(type)]));
}

/** The permission sub-collection of each object type that has one. */
export const PERMISSION_PARENTS: [string, ObjectType][] = [
  ["datacenters", "data_center"],
  ["clusters", "cluster"],
  ["hosts", "host"],
  ["vms", "vm"],
  ["templates", "template"],
  ["disks", "disk"],
  ["storagedomains", "storage_domain"],
  ["networks", "network"],
  ["vnicprofiles", "vnic_profile"],
];

const needs: Record<string, Need> = {
  // What real clients read and update (issue 12 §1: the SDK, Ansible, libgovirt)
  "GET /openapi.json": open,
  "PUT /datacenters/:id": onParam("edit_storage_pool_configuration", "data_center"),
  "PUT /clusters/:id": onParam("edit_cluster_configuration", "cluster"),
  "GET /clusters/:id/hosts": admin,
  "PUT /hosts/:id": onParam("edit_host_configuration", "host"),
  "GET /hosts/:id/vms": admin,
  "PUT /storagedomains/:id": onParam("edit_storage_domain_configuration", "storage_domain"),
  "PUT /templates/:id": onParam("edit_template_properties", "template"),
  "GET /vms/:id/cdroms": view("vm"),
  "GET /vms/:id/cdroms/:cd": view("vm"),
  "PUT /vms/:id/cdroms/:cd": onParam("change_vm_cd", "vm"),
  "GET /storagedomains/:id/files": view("storage_domain"),
  "GET /storagedomains/:id/files/:file": view("storage_domain"),
  "PUT /vms/:id/diskattachments/:disk": onParam("configure_vm_storage", "vm"),
  // statistics and events (issue 10)
  "GET /hosts/:id/statistics": view("host"),
  "GET /vms/:id/statistics": view("vm"),
  "GET /vms/:id/nics/:nic/statistics": view("vm"),
  "GET /disks/:id/statistics": view("disk"),
  "GET /hosts/:id/statistics/history": view("host"),
  "GET /vms/:id/statistics/history": view("vm"),
  // every object's figures in one answer: only for who administers the whole system
  "GET /metrics": { systemAdmin: true },
  // the audit log: all of it for administrators; in the user view, the events of what the user sees
  "GET /events": { events: "list" },
  "GET /events/:id": { events: "one" },
  // VM pools do not exist yet: the collection is empty for everyone
  "GET /vmpools": open,
  "GET /vmpools/:id": open,
  // fixed catalogues (OS types, cluster levels, the internal domain): readable by every signed-in user
  "GET /operatingsystems": open,
  "GET /operatingsystems/:id": open,
  "GET /clusterlevels": open,
  "GET /clusterlevels/:id": open,
  "GET /domains": open,
  "GET /domains/:id": open,
  // a domain's users and groups (a search of the directory): for who may add users
  "GET /domains/:id/users": onSystem("manipulate_users"),
  "GET /domains/:id/users/:user": onSystem("manipulate_users"),
  "GET /domains/:id/groups": onSystem("manipulate_users"),
  "GET /domains/:id/groups/:group": onSystem("manipulate_users"),
  ...emptyUnder("/vms/:id", "vm", ["numanodes", "hostdevices", "watchdogs", "tags", "affinitylabels", "applications", "sessions", "reporteddevices", "katelloerrata", "mediateddevices"]),
  ...emptyUnder("/hosts/:id", "host", ["numanodes", "hooks", "devices", "tags", "affinitylabels", "katelloerrata", "storageconnectionextensions"]),
  ...emptyUnder("/datacenters/:id", "data_center", ["qoss", "iscsibonds"]),
  ...emptyUnder("/clusters/:id", "cluster", ["affinitygroups", "enabledfeatures"]),
  // Profiles, scheduling policies, storage connections (api/resources/profiles.ts): a cluster's
  // or domain's own profile to whoever sees it; the whole lists (and the connections' paths) to
  // administrators; the predefined policies to every signed-in user.
  "GET /clusters/:id/cpuprofiles": view("cluster"),
  "GET /clusters/:id/cpuprofiles/:profile": view("cluster"),
  "GET /storagedomains/:id/diskprofiles": view("storage_domain"),
  "GET /storagedomains/:id/diskprofiles/:profile": view("storage_domain"),
  "GET /cpuprofiles": admin,
  "GET /cpuprofiles/:id": admin,
  "GET /diskprofiles": admin,
  "GET /diskprofiles/:id": admin,
  "GET /schedulingpolicies": open,
  "GET /schedulingpolicies/:id": open,
  "GET /schedulingpolicyunits": open,
  "GET /schedulingpolicyunits/:id": open,
  "GET /storageconnections": admin,
  "GET /storageconnections/:id": admin,
  ...emptyUnder("/templates/:id", "template", ["watchdogs", "tags", "cdroms"]),
  // collections of features Vela does not have (tags, bookmarks, providers, …): empty for everyone
  ...Object.fromEntries(EMPTY_TOP_COLLECTIONS.flatMap((t) => [[`GET /${t.path}`, open], [`GET /${t.path}/:id`, open]])),
  "GET ": open,

  "GET /datacenters": list("data_center", "data_center"),
  "POST /datacenters": onSystem("create_storage_pool"),
  "GET /datacenters/:id": view("data_center"),
  "DELETE /datacenters/:id": removing(onParam("delete_storage_pool", "data_center")),
  "GET /datacenters/:id/clusters": viewItems("data_center", "cluster", "cluster"),
  "GET /datacenters/:id/storagedomains": viewItems("data_center", "storage_domain", "storage_domain"),
  "POST /datacenters/:id/storagedomains": onParam("manipulate_storage_domain", "data_center"),
  "GET /datacenters/:id/storagedomains/:sd": view("data_center"),
  "DELETE /datacenters/:id/storagedomains/:sd": onParam("manipulate_storage_domain", "data_center"),
  "POST /datacenters/:id/storagedomains/:sd/activate": onParam("manipulate_storage_domain", "data_center"),
  "POST /datacenters/:id/storagedomains/:sd/deactivate": onParam("manipulate_storage_domain", "data_center"),

  // quotas (quotas/resources.ts): seen by whoever sees the quota (a user holding QuotaConsumer on
  // it, or anything on its data center); configured with configure_quota (DataCenterAdmin).
  "GET /datacenters/:id/quotas": viewItems("data_center", "quota", "quota"),
  "POST /datacenters/:id/quotas": onParam("configure_quota", "data_center"),
  "GET /datacenters/:id/quotas/:quota": view("quota", "quota"),
  "PUT /datacenters/:id/quotas/:quota": onParam("configure_quota", "quota", "quota"),
  "DELETE /datacenters/:id/quotas/:quota": removing(onParam("configure_quota", "quota", "quota")),
  "GET /datacenters/:id/quotas/:quota/quotaclusterlimits": view("quota", "quota"),
  "POST /datacenters/:id/quotas/:quota/quotaclusterlimits": onParam("configure_quota", "quota", "quota"),
  "GET /datacenters/:id/quotas/:quota/quotaclusterlimits/:limit": view("quota", "quota"),
  "DELETE /datacenters/:id/quotas/:quota/quotaclusterlimits/:limit": onParam("configure_quota", "quota", "quota"),
  "GET /datacenters/:id/quotas/:quota/quotastoragelimits": view("quota", "quota"),
  "POST /datacenters/:id/quotas/:quota/quotastoragelimits": onParam("configure_quota", "quota", "quota"),
  "GET /datacenters/:id/quotas/:quota/quotastoragelimits/:limit": view("quota", "quota"),
  "DELETE /datacenters/:id/quotas/:quota/quotastoragelimits/:limit": onParam("configure_quota", "quota", "quota"),
  "GET /datacenters/:id/quotas/:quota/permissions": { view: "quota", param: "quota", items: { item: "permission", type: "system" } },
  "POST /datacenters/:id/quotas/:quota/permissions": onParam("manipulate_permissions", "quota", "quota"),
  "GET /datacenters/:id/quotas/:quota/permissions/:perm": view("quota", "quota"),
  "DELETE /datacenters/:id/quotas/:quota/permissions/:perm": onParam("manipulate_permissions", "quota", "quota"),

  "GET /clusters": list("cluster", "cluster"),
  "POST /clusters": fromBody("create_cluster", "data_center", "data_center", "data_centers"),
  "GET /clusters/:id": view("cluster"),
  "DELETE /clusters/:id": removing(onParam("delete_cluster", "cluster")),

  "GET /hosts": list("host", "host"),
  "GET /hosts/:id": view("host"),
  "GET /hosts/:id/storage": view("host"),
  "DELETE /hosts/:id": removing(onParam("delete_host", "host")),
  "POST /hosts/:id/activate": onParam("manipulate_host", "host"),
  "POST /hosts/:id/deactivate": onParam("manipulate_host", "host"),
  "POST /hosts/:id/approve": onParam("manipulate_host", "host"),
  "POST /hosts/:id/enrollcertificate": onParam("manipulate_host", "host"),
  "POST /hosts/:id/forceselectspm": onParam("manipulate_host", "host"),
  "POST /hosts/:id/iscsidiscover": onParam("manipulate_host", "host"),
  "POST /hosts/:id/iscsilogin": onParam("manipulate_host", "host"),

  "GET /storagedomains": list("storage_domain", "storage_domain"),
  "POST /storagedomains": onSystem("create_storage_domain"),
  "GET /storagedomains/:id": view("storage_domain"),
  "DELETE /storagedomains/:id": removing(onParam("delete_storage_domain", "storage_domain")),
  "GET /storagedomains/:id/disks": viewItems("storage_domain", "disk", "disk"),
  // A disk found on the domain becomes the engine's: creating a disk there, as oVirt asks.
  "POST /storagedomains/:id/disks/:disk/register": onParam("create_disk", "storage_domain"),

  "GET /disks": list("disk", "disk"),
  "POST /disks": owning(onSystem("create_disk"), "DiskOperator", "disk"),
  "GET /disks/:id": view("disk"),
  "PUT /disks/:id": onParam("edit_disk_properties", "disk"),
  "DELETE /disks/:id": removing(onParam("delete_disk", "disk")),
  "POST /disks/:id/copy": onParam("configure_disk_storage", "disk"),
  "POST /disks/:id/move": onParam("configure_disk_storage", "disk"),
  "POST /disks/:id/import": onParam("edit_disk_properties", "disk"),

  "GET /templates": list("template", "template"),
  "POST /templates": owning(fromBody("create_template", "vm", "vm", "vms"), "TemplateOwner", "template"),
  "GET /templates/:id": view("template"),
  "DELETE /templates/:id": removing(onParam("delete_template", "template")),
  "GET /templates/:id/diskattachments": view("template"),
  "GET /templates/:id/diskattachments/:disk": view("template"),

  "GET /vms": list("vm", "vm"),
  "POST /vms": owning(fromBody("create_vm", "cluster", "cluster", "clusters"), "UserVmManager", "vm"),
  "GET /vms/:id": view("vm"),
  "PUT /vms/:id": onParam("edit_vm_properties", "vm"),
  "DELETE /vms/:id": removing(onParam("delete_vm", "vm")),
  "POST /vms/:id/start": onParam("vm_basic_operations", "vm"),
  "POST /vms/:id/stop": onParam("vm_basic_operations", "vm"),
  "POST /vms/:id/shutdown": onParam("vm_basic_operations", "vm"),
  "GET /vms/:id/diskattachments": view("vm"),
  "POST /vms/:id/diskattachments": onParam("configure_vm_storage", "vm"),
  "GET /vms/:id/diskattachments/:disk": view("vm"),
  "DELETE /vms/:id/diskattachments/:disk": onParam("configure_vm_storage", "vm"),
  "GET /vms/:id/snapshots": view("vm"),
  "POST /vms/:id/snapshots": onParam("manipulate_vm_snapshots", "vm"),
  "GET /vms/:id/snapshots/:snap": view("vm"),
  "DELETE /vms/:id/snapshots/:snap": onParam("manipulate_vm_snapshots", "vm"),
  "GET /vms/:id/snapshots/:snap/disks": view("vm"),
  "GET /vms/:id/snapshots/:snap/disks/:disk": view("vm"),
  "POST /vms/:id/snapshots/:snap/restore": onParam("manipulate_vm_snapshots", "vm"),
  "POST /vms/:id/previewsnapshot": onParam("manipulate_vm_snapshots", "vm"),
  "POST /vms/:id/commitsnapshot": onParam("manipulate_vm_snapshots", "vm"),
  "POST /vms/:id/undosnapshot": onParam("manipulate_vm_snapshots", "vm"),
  "GET /vms/:id/graphicsconsoles": view("vm"),
  "GET /vms/:id/graphicsconsoles/:gid": view("vm"),
  "POST /vms/:id/graphicsconsoles/:gid/ticket": onParam("connect_to_vm", "vm"),
  "POST /vms/:id/graphicsconsoles/:gid/proxyticket": onParam("connect_to_vm", "vm"),
  "POST /vms/:id/graphicsconsoles/:gid/remoteviewerconnectionfile": onParam("connect_to_vm", "vm"),
  "POST /vms/:id/ticket": onParam("connect_to_vm", "vm"),
  "POST /vms/:id/serialconsole/proxyticket": onParam("connect_to_vm", "vm"),
  "GET /vms/:id/consoleoutput": onParam("connect_to_vm", "vm"),
  "GET /vms/:id/screenshot": onParam("connect_to_vm", "vm"),
  "POST /vms/:id/reset": onParam("vm_basic_operations", "vm"),
  "POST /vms/:id/reboot": onParam("vm_basic_operations", "vm"),
  "POST /vms/:id/suspend": onParam("vm_basic_operations", "vm"),
  "POST /vms/:id/sendkeys": onParam("connect_to_vm", "vm"),
  "POST /vms/:id/injectnmi": onParam("vm_basic_operations", "vm"),

  "GET /networks": list("network", "network"),
  "POST /networks": fromBody("create_storage_pool_network", "data_center", "data_center", "data_centers"),
  "GET /networks/:id": view("network"),
  "DELETE /networks/:id": removing(onParam("delete_storage_pool_network", "network")),
  "GET /networks/:id/vnicprofiles": view("network"),
  "POST /networks/:id/vnicprofiles": onParam("configure_network_vnic_profile", "network"),
  "GET /datacenters/:id/networks": viewItems("data_center", "network", "network"),
  "POST /datacenters/:id/networks": onParam("create_storage_pool_network", "data_center"),
  "GET /clusters/:id/networks": view("cluster"),
  "POST /clusters/:id/networks": onParam("configure_cluster_network", "cluster"),
  "GET /clusters/:id/networks/:net": view("cluster"),
  "DELETE /clusters/:id/networks/:net": onParam("configure_cluster_network", "cluster"),
  "GET /vnicprofiles": list("vnic_profile", "vnic_profile"),
  "POST /vnicprofiles": fromBody("configure_network_vnic_profile", "network", "network", "networks"),
  "GET /vnicprofiles/:id": view("vnic_profile"),
  "DELETE /vnicprofiles/:id": removing(onParam("configure_network_vnic_profile", "vnic_profile")),
  "GET /vms/:id/nics": view("vm"),
  "POST /vms/:id/nics": onParam("configure_vm_network", "vm"),
  "GET /vms/:id/nics/:nic": view("vm"),
  "PUT /vms/:id/nics/:nic": onParam("configure_vm_network", "vm"),
  "DELETE /vms/:id/nics/:nic": onParam("configure_vm_network", "vm"),
  "GET /macpools": admin,
  "GET /macpools/:id": admin,
  "GET /hosts/:id/nics": view("host"),
  "POST /hosts/:id/setupnetworks": onParam("configure_host_network", "host"),
  "GET /hosts/:id/networkattachments": view("host"),
  "GET /hosts/:id/networkattachments/:att": view("host"),

  "GET /imagetransfers": admin,
  "POST /imagetransfers": { act: "edit_disk_properties", on: transferBodyDisk },
  "GET /imagetransfers/:id": { act: "edit_disk_properties", on: transferDisk },
  "POST /imagetransfers/:id/finalize": { act: "edit_disk_properties", on: transferDisk },
  "POST /imagetransfers/:id/cancel": { act: "edit_disk_properties", on: transferDisk },
  "POST /imagetransfers/:id/extend": { act: "edit_disk_properties", on: transferDisk },
  "GET /jobs": admin,
  "GET /jobs/:id": admin,
  "GET /jobs/:id/steps": admin,
  "GET /jobs/:id/steps/:step": admin,

  // users, groups, roles, permissions (this folder and users/)
  "GET /users": admin,
  "POST /users": onSystem("manipulate_users"),
  "GET /users/:id": admin,
  "DELETE /users/:id": onSystem("manipulate_users"),
  "GET /users/:id/groups": admin,
  "GET /users/:id/permissions": admin,
  "GET /groups": admin,
  "POST /groups": onSystem("manipulate_users"),
  "GET /groups/:id": admin,
  "DELETE /groups/:id": onSystem("manipulate_users"),
  "GET /groups/:id/permissions": admin,
  "GET /roles": open,
  "GET /roles/:id": open,
  "GET /roles/:id/permits": open,
  "GET /roles/:id/permits/:permit": open,
  "POST /roles": onSystem("manipulate_roles"),
  "PUT /roles/:id": onSystem("manipulate_roles"),
  "DELETE /roles/:id": onSystem("manipulate_roles"),
  "POST /roles/:id/permits": onSystem("manipulate_roles"),
  "DELETE /roles/:id/permits/:permit": onSystem("manipulate_roles"),
  "GET /permissions": admin,
  "POST /permissions": onSystem("manipulate_permissions"),
  "GET /permissions/:perm": admin,
  "DELETE /permissions/:perm": onSystem("manipulate_permissions"),
};

for (const [coll, type] of PERMISSION_PARENTS) {
  needs[`GET /${coll}/:id/permissions`] = { view: type, param: "id", items: { item: "permission", type: "system" } };
  needs[`POST /${coll}/:id/permissions`] = onParam("manipulate_permissions", type);
  needs[`GET /${coll}/:id/permissions/:perm`] = view(type);
  needs[`DELETE /${coll}/:id/permissions/:perm`] = onParam("manipulate_permissions", type);
}

export function needOf(method: string, path: string): Need | undefined {
  return needs[`${method} ${path}`];
}
