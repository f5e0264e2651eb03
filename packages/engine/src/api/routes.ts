/**
 * The route table. Resource modules (and zod, and the commands behind them) are loaded on the
 * first request that needs them, not at start-up: that keeps process start → API-ready short.
 * `preload()` warms those clients use right after the engine reports ready.
 */
import type { BatchHandler, Call, Handler, Reply } from "./call.js";
import { EMPTY_SUBCOLLECTIONS, EMPTY_TOP_COLLECTIONS } from "./empty-collections.js";
import type { Method, RouteDef } from "./server.js";

type Module = Record<string, unknown>;

function lazy<M extends Module>(load: () => Promise<M>): () => Promise<M> {
  let p: Promise<M> | undefined;
  return () => {
    p ??= load();
    return p;
  };
}

const root = lazy(() => import("./resources/root.js"));
const datacenters = lazy(() => import("./resources/datacenters.js"));
const clusters = lazy(() => import("./resources/clusters.js"));
const hosts = lazy(() => import("./resources/hosts.js"));
const storagedomains = lazy(() => import("./resources/storagedomains.js"));
const cdroms = lazy(() => import("./resources/cdroms.js"));
const disks = lazy(() => import("./resources/disks.js"));
const templates = lazy(() => import("./resources/templates.js"));
const vms = lazy(() => import("./resources/vms.js"));
const jobs = lazy(() => import("./resources/jobs.js"));
const consoles = lazy(() => import("./resources/consoles.js"));
const internal = lazy(() => import("./resources/internal.js"));
const networks = lazy(() => import("./resources/networks.js"));
const enroll = lazy(() => import("../pki/enroll.js"));
const users = lazy(() => import("../users/resources.js"));
const domains = lazy(() => import("../users/domains.js"));
const perms = lazy(() => import("../permissions/resources.js"));
const vmpools = lazy(() => import("./resources/vmpools.js"));
const clientLinks = lazy(() => import("./resources/client-links.js"));
const updates = lazy(() => import("./resources/updates.js"));
const empty = lazy(() => import("./resources/empty.js"));
const openapi = lazy(() => import("./resources/openapi.js"));
const statistics = lazy(() => import("./resources/statistics.js"));
const events = lazy(() => import("./resources/events.js"));
const imagetransfers = lazy(() => import("./resources/imagetransfers.js"));
const catalogs = lazy(() => import("./resources/catalogs.js"));
const metrics = lazy(() => import("./resources/metrics.js"));
const profiles = lazy(() => import("./resources/profiles.js"));
const quotas = lazy(() => import("../quotas/resources.js"));

/**
 * Warmed after start. Not the metrics (prom-client and its dependencies: ~3 MiB of RSS, measured, an engine
 * nobody scrapes never needs) nor the OpenAPI document: each loads on its first request.
 */
const WARM = [root, datacenters, clusters, hosts, storagedomains, cdroms, disks, templates, vms, jobs, consoles, internal, networks, users, domains, perms, vmpools, clientLinks, updates, empty, statistics, events, enroll, imagetransfers, catalogs, profiles, quotas];

function h<M extends Module, K extends keyof M>(mod: () => Promise<M>, name: K): Handler {
  return async (c: Call): Promise<Reply> => {
    const m = await mod();
    return (m[name] as unknown as Handler)(c);
  };
}

function hb<M extends Module, K extends keyof M>(mod: () => Promise<M>, name: K): BatchHandler {
  return async (cs: Call[]): Promise<Reply[]> => {
    const m = await mod();
    return (m[name] as unknown as BatchHandler)(cs);
  };
}

type PermOp = "list" | "get" | "add" | "remove";
type PermType = import("../permissions/tree.js").ObjectType;

/** A permissions handler bound to the object type its path names. */
function p(op: PermOp, type: PermType): Handler {
  return async (c: Call): Promise<Reply> => (await perms())[op](type)(c);
}

/** The four permission routes of one object collection (or of the system, at /permissions). */
function permissionRoutes(base: string, type: PermType): RouteDef[] {
  return [
    r("GET", `${base}/permissions`, p("list", type)),
    r("POST", `${base}/permissions`, p("add", type)),
    r("GET", `${base}/permissions/:perm`, p("get", type)),
    r("DELETE", `${base}/permissions/:perm`, p("remove", type)),
  ];
}

function r(method: Method, path: string, handler: Handler): RouteDef {
  return { method, path, handler };
}

export const apiRoutes: RouteDef[] = [
  r("GET", "", h(root, "get")),
  // The OpenAPI document of this table (resources/openapi.ts).
  r("GET", "/openapi.json", h(openapi, "get")),

  r("GET", "/datacenters", h(datacenters, "list")),
  r("POST", "/datacenters", h(datacenters, "add")),
  r("GET", "/datacenters/:id", h(datacenters, "get")),
  r("PUT", "/datacenters/:id", h(updates, "updateDataCenter")),
  r("DELETE", "/datacenters/:id", h(datacenters, "remove")),
  r("GET", "/datacenters/:id/clusters", h(datacenters, "clusters")),
  r("GET", "/datacenters/:id/storagedomains", h(datacenters, "storageDomains")),
  r("POST", "/datacenters/:id/storagedomains", h(datacenters, "attach")),
  r("GET", "/datacenters/:id/storagedomains/:sd", h(datacenters, "storageDomain")),
  r("DELETE", "/datacenters/:id/storagedomains/:sd", h(datacenters, "detach")),
  r("POST", "/datacenters/:id/storagedomains/:sd/activate", h(datacenters, "activateStorageDomain")),
  r("POST", "/datacenters/:id/storagedomains/:sd/deactivate", h(datacenters, "deactivateStorageDomain")),
  // quotas (quotas/resources.ts)
  r("GET", "/datacenters/:id/quotas", h(quotas, "list")),
  r("POST", "/datacenters/:id/quotas", h(quotas, "add")),
  r("GET", "/datacenters/:id/quotas/:quota", h(quotas, "get")),
  r("PUT", "/datacenters/:id/quotas/:quota", h(quotas, "update")),
  r("DELETE", "/datacenters/:id/quotas/:quota", h(quotas, "remove")),
  r("GET", "/datacenters/:id/quotas/:quota/quotaclusterlimits", h(quotas, "clusterLimits")),
  r("POST", "/datacenters/:id/quotas/:quota/quotaclusterlimits", h(quotas, "addClusterLimit")),
  r("GET", "/datacenters/:id/quotas/:quota/quotaclusterlimits/:limit", h(quotas, "clusterLimit")),
  r("DELETE", "/datacenters/:id/quotas/:quota/quotaclusterlimits/:limit", h(quotas, "removeClusterLimit")),
  r("GET", "/datacenters/:id/quotas/:quota/quotastoragelimits", h(quotas, "storageLimits")),
  r("POST", "/datacenters/:id/quotas/:quota/quotastoragelimits", h(quotas, "addStorageLimit")),
  r("GET", "/datacenters/:id/quotas/:quota/quotastoragelimits/:limit", h(quotas, "storageLimit")),
  r("DELETE", "/datacenters/:id/quotas/:quota/quotastoragelimits/:limit", h(quotas, "removeStorageLimit")),

  r("GET", "/clusters", h(clusters, "list")),
  r("POST", "/clusters", h(clusters, "add")),
  r("GET", "/clusters/:id", h(clusters, "get")),
  r("PUT", "/clusters/:id", h(updates, "updateCluster")),
  r("DELETE", "/clusters/:id", h(clusters, "remove")),
  r("GET", "/clusters/:id/hosts", h(clientLinks, "clusterHosts")),

  r("GET", "/hosts", h(hosts, "list")),
  r("GET", "/hosts/:id", h(hosts, "get")),
  r("PUT", "/hosts/:id", h(updates, "updateHost")),
  r("GET", "/hosts/:id/storage", h(hosts, "storage")),
  r("DELETE", "/hosts/:id", h(hosts, "remove")),
  r("GET", "/hosts/:id/vms", h(clientLinks, "hostVms")),
  r("POST", "/hosts/:id/activate", h(hosts, "activate")),
  r("POST", "/hosts/:id/deactivate", h(hosts, "deactivate")),
  r("POST", "/hosts/:id/approve", h(hosts, "approve")),
  r("POST", "/hosts/:id/enrollcertificate", h(hosts, "enrollCertificate")),
  r("POST", "/hosts/:id/forceselectspm", h(hosts, "forceSelectSpm")),
  r("POST", "/hosts/:id/iscsidiscover", h(hosts, "iscsiDiscover")),
  r("POST", "/hosts/:id/iscsilogin", h(hosts, "iscsiLogin")),

  r("GET", "/storagedomains", h(storagedomains, "list")),
  r("POST", "/storagedomains", h(storagedomains, "add")),
  r("GET", "/storagedomains/:id", h(storagedomains, "get")),
  r("PUT", "/storagedomains/:id", h(updates, "updateStorageDomain")),
  r("DELETE", "/storagedomains/:id", h(storagedomains, "remove")),
  r("GET", "/storagedomains/:id/disks", h(storagedomains, "disks")),
  r("POST", "/storagedomains/:id/disks/:disk/register", h(storagedomains, "registerDisk")),

  r("GET", "/disks", h(disks, "list")),
  r("POST", "/disks", h(disks, "add")),
  r("GET", "/disks/:id", h(disks, "get")),
  r("PUT", "/disks/:id", h(disks, "update")),
  r("DELETE", "/disks/:id", h(disks, "remove")),
  r("POST", "/disks/:id/copy", h(disks, "copy")),
  r("POST", "/disks/:id/move", h(disks, "move")),
  r("POST", "/disks/:id/import", h(disks, "importFile")),

  r("GET", "/templates", h(templates, "list")),
  r("POST", "/templates", h(templates, "add")),
  r("GET", "/templates/:id", h(templates, "get")),
  r("PUT", "/templates/:id", h(updates, "updateTemplate")),
  r("DELETE", "/templates/:id", h(templates, "remove")),
  r("GET", "/templates/:id/diskattachments", h(templates, "diskAttachments")),
  r("GET", "/templates/:id/diskattachments/:disk", h(templates, "diskAttachment")),

  r("GET", "/vms", h(vms, "list")),
  r("POST", "/vms", h(vms, "add")),
  r("GET", "/vms/:id", h(vms, "get")),
  r("PUT", "/vms/:id", h(vms, "update")),
  r("DELETE", "/vms/:id", h(vms, "remove")),
  r("POST", "/vms/:id/start", h(vms, "start")),
  r("POST", "/vms/:id/stop", h(vms, "stop")),
  r("POST", "/vms/:id/shutdown", h(vms, "shutdown")),
  r("GET", "/vms/:id/cdroms", h(cdroms, "vmCdroms")),
  r("GET", "/vms/:id/cdroms/:cd", h(cdroms, "vmCdrom")),
  r("PUT", "/vms/:id/cdroms/:cd", h(cdroms, "updateVmCdrom")),
  r("GET", "/storagedomains/:id/files", h(cdroms, "domainFiles")),
  r("GET", "/storagedomains/:id/files/:file", h(cdroms, "domainFile")),
  { ...r("GET", "/vms/:id/diskattachments", h(vms, "diskAttachments")), batch: hb(vms, "diskAttachmentsBatch") },
  r("POST", "/vms/:id/diskattachments", h(vms, "attachDisk")),
  r("GET", "/vms/:id/diskattachments/:disk", h(vms, "diskAttachment")),
  r("PUT", "/vms/:id/diskattachments/:disk", h(updates, "updateDiskAttachment")),
  r("DELETE", "/vms/:id/diskattachments/:disk", h(vms, "detachDisk")),
  r("GET", "/vms/:id/snapshots", h(vms, "snapshots")),
  r("POST", "/vms/:id/snapshots", h(vms, "addSnapshot")),
  r("GET", "/vms/:id/snapshots/:snap", h(vms, "snapshot")),
  r("DELETE", "/vms/:id/snapshots/:snap", h(vms, "removeSnapshot")),
  r("GET", "/vms/:id/snapshots/:snap/disks", h(vms, "snapshotDisks")),
  r("GET", "/vms/:id/snapshots/:snap/disks/:disk", h(vms, "snapshotDisk")),
  r("POST", "/vms/:id/snapshots/:snap/restore", h(vms, "restoreSnapshot")),
  r("POST", "/vms/:id/previewsnapshot", h(vms, "previewSnapshot")),
  r("POST", "/vms/:id/commitsnapshot", h(vms, "commitSnapshot")),
  r("POST", "/vms/:id/undosnapshot", h(vms, "undoSnapshot")),
  r("GET", "/vms/:id/graphicsconsoles", h(consoles, "graphicsConsoles")),
  r("GET", "/vms/:id/graphicsconsoles/:gid", h(consoles, "graphicsConsole")),
  r("POST", "/vms/:id/graphicsconsoles/:gid/ticket", h(consoles, "ticket")),
  r("POST", "/vms/:id/graphicsconsoles/:gid/proxyticket", h(consoles, "vncProxyTicket")),
  r("POST", "/vms/:id/graphicsconsoles/:gid/remoteviewerconnectionfile", h(consoles, "remoteViewerConnectionFile")),
  r("POST", "/vms/:id/ticket", h(consoles, "ticket")),
  r("POST", "/vms/:id/serialconsole/proxyticket", h(consoles, "serialProxyTicket")),
  r("GET", "/vms/:id/consoleoutput", h(consoles, "consoleOutput")),
  r("GET", "/vms/:id/screenshot", h(consoles, "screenshot")),
  r("POST", "/vms/:id/reset", h(consoles, "reset")),
  r("POST", "/vms/:id/reboot", h(consoles, "reboot")),
  r("POST", "/vms/:id/suspend", h(consoles, "suspend")),
  r("POST", "/vms/:id/sendkeys", h(consoles, "sendKeys")),
  r("POST", "/vms/:id/injectnmi", h(consoles, "injectNmi")),

  // networking (issue 10)
  r("GET", "/networks", h(networks, "list")),
  r("POST", "/networks", h(networks, "add")),
  r("GET", "/networks/:id", h(networks, "get")),
  r("DELETE", "/networks/:id", h(networks, "remove")),
  r("GET", "/networks/:id/vnicprofiles", h(networks, "networkProfiles")),
  r("POST", "/networks/:id/vnicprofiles", h(networks, "addNetworkProfile")),
  r("GET", "/datacenters/:id/networks", h(networks, "dcNetworks")),
  r("POST", "/datacenters/:id/networks", h(networks, "addDcNetwork")),
  r("GET", "/clusters/:id/networks", h(networks, "clusterNetworks")),
  r("POST", "/clusters/:id/networks", h(networks, "attachClusterNetwork")),
  r("GET", "/clusters/:id/networks/:net", h(networks, "clusterNetwork")),
  r("DELETE", "/clusters/:id/networks/:net", h(networks, "detachClusterNetwork")),
  r("GET", "/vnicprofiles", h(networks, "profiles")),
  r("POST", "/vnicprofiles", h(networks, "addProfile")),
  r("GET", "/vnicprofiles/:id", h(networks, "profile")),
  r("DELETE", "/vnicprofiles/:id", h(networks, "removeProfile")),
  r("GET", "/vms/:id/nics", h(networks, "vmNics")),
  r("POST", "/vms/:id/nics", h(networks, "addVmNic")),
  r("GET", "/vms/:id/nics/:nic", h(networks, "vmNic")),
  r("PUT", "/vms/:id/nics/:nic", h(networks, "updateVmNic")),
  r("DELETE", "/vms/:id/nics/:nic", h(networks, "removeVmNic")),
  r("GET", "/macpools", h(networks, "macPools")),
  r("GET", "/macpools/:id", h(networks, "macPool")),
  r("GET", "/hosts/:id/nics", h(networks, "hostNics")),
  r("POST", "/hosts/:id/setupnetworks", h(networks, "setupNetworks")),
  r("GET", "/hosts/:id/networkattachments", h(networks, "networkAttachments")),
  r("GET", "/hosts/:id/networkattachments/:att", h(networks, "networkAttachment")),

  // users, groups, roles, permissions (issue 12)
  r("GET", "/users", h(users, "listAll")),
  r("POST", "/users", h(users, "add")),
  r("GET", "/users/:id", h(users, "get")),
  r("DELETE", "/users/:id", h(users, "remove")),
  r("GET", "/users/:id/groups", h(users, "userGroups")),
  r("GET", "/users/:id/permissions", h(users, "userPermissions")),
  r("GET", "/groups", h(users, "groups")),
  r("POST", "/groups", h(users, "addGroupCall")),
  r("GET", "/groups/:id", h(users, "group")),
  r("DELETE", "/groups/:id", h(users, "removeGroupCall")),
  r("GET", "/groups/:id/permissions", h(users, "groupPermissions")),
  r("GET", "/roles", h(perms, "roles")),
  r("GET", "/roles/:id", h(perms, "role")),
  r("GET", "/roles/:id/permits", h(perms, "permits")),
  r("GET", "/roles/:id/permits/:permit", h(perms, "permit")),
  r("POST", "/roles", h(perms, "addRole")),
  r("PUT", "/roles/:id", h(perms, "updateRole")),
  r("DELETE", "/roles/:id", h(perms, "removeRole")),
  r("POST", "/roles/:id/permits", h(perms, "addPermit")),
  r("DELETE", "/roles/:id/permits/:permit", h(perms, "removePermit")),
  ...permissionRoutes("", "system"),
  ...permissionRoutes("/datacenters/:id", "data_center"),
  ...permissionRoutes("/clusters/:id", "cluster"),
  ...permissionRoutes("/hosts/:id", "host"),
  ...permissionRoutes("/vms/:id", "vm"),
  ...permissionRoutes("/templates/:id", "template"),
  ...permissionRoutes("/disks/:id", "disk"),
  ...permissionRoutes("/storagedomains/:id", "storage_domain"),
  ...permissionRoutes("/networks/:id", "network"),
  ...permissionRoutes("/vnicprofiles/:id", "vnic_profile"),
  ...permissionRoutes("/datacenters/:id/quotas/:quota", "quota"),

  r("GET", "/vmpools", h(vmpools, "list")),
  r("GET", "/vmpools/:id", h(vmpools, "get")),
  r("GET", "/operatingsystems", h(catalogs, "operatingSystems")),
  r("GET", "/operatingsystems/:id", h(catalogs, "operatingSystem")),
  r("GET", "/clusterlevels", h(catalogs, "clusterLevels")),
  r("GET", "/clusterlevels/:id", h(catalogs, "clusterLevel")),
  r("GET", "/domains", h(domains, "domains")),
  r("GET", "/domains/:id", h(domains, "getDomain")),
  r("GET", "/domains/:id/users", h(domains, "domainUsers")),
  r("GET", "/domains/:id/users/:user", h(domains, "domainUser")),
  r("GET", "/domains/:id/groups", h(domains, "domainGroups")),
  r("GET", "/domains/:id/groups/:group", h(domains, "domainGroup")),

  // statistics (issue 10)
  r("GET", "/hosts/:id/statistics", h(statistics, "host")),
  r("GET", "/vms/:id/statistics", h(statistics, "vm")),
  r("GET", "/vms/:id/nics/:nic/statistics", h(statistics, "nic")),
  r("GET", "/disks/:id/statistics", h(statistics, "disk")),
  // Vela: the last hour, for the portal's charts
  r("GET", "/hosts/:id/statistics/history", h(statistics, "hostHistory")),
  r("GET", "/vms/:id/statistics/history", h(statistics, "vmHistory")),
  // the same figures for Prometheus (issue 10)
  r("GET", "/metrics", h(metrics, "get")),
  r("GET", "/events", h(events, "list")),
  r("GET", "/events/:id", h(events, "get")),

  r("GET", "/imagetransfers", h(imagetransfers, "list")),
  r("POST", "/imagetransfers", h(imagetransfers, "add")),
  r("GET", "/imagetransfers/:id", h(imagetransfers, "get")),
  r("POST", "/imagetransfers/:id/finalize", h(imagetransfers, "finalize")),
  r("POST", "/imagetransfers/:id/cancel", h(imagetransfers, "cancel")),
  r("POST", "/imagetransfers/:id/extend", h(imagetransfers, "extend")),

  r("GET", "/jobs", h(jobs, "list")),
  r("GET", "/jobs/:id", h(jobs, "get")),
  r("GET", "/jobs/:id/steps", h(jobs, "steps")),
  r("GET", "/jobs/:id/steps/:step", h(jobs, "step")),

  // CPU and disk profiles, scheduling policies, storage connections (resources/profiles.ts).
  r("GET", "/cpuprofiles", h(profiles, "cpuProfiles")),
  r("GET", "/cpuprofiles/:id", h(profiles, "cpuProfile")),
  r("GET", "/clusters/:id/cpuprofiles", h(profiles, "clusterCpuProfiles")),
  r("GET", "/clusters/:id/cpuprofiles/:profile", h(profiles, "clusterCpuProfile")),
  r("GET", "/diskprofiles", h(profiles, "diskProfiles")),
  r("GET", "/diskprofiles/:id", h(profiles, "diskProfile")),
  r("GET", "/storagedomains/:id/diskprofiles", h(profiles, "domainDiskProfiles")),
  r("GET", "/storagedomains/:id/diskprofiles/:profile", h(profiles, "domainDiskProfile")),
  r("GET", "/schedulingpolicies", h(profiles, "schedulingPolicies")),
  r("GET", "/schedulingpolicies/:id", h(profiles, "schedulingPolicy")),
  r("GET", "/schedulingpolicyunits", h(profiles, "schedulingPolicyUnits")),
  r("GET", "/schedulingpolicyunits/:id", h(profiles, "schedulingPolicyUnit")),
  r("GET", "/storageconnections", h(profiles, "storageConnections")),
  r("GET", "/storageconnections/:id", h(profiles, "storageConnection")),
  // Sub-collections clients read that Vela serves empty (empty-collections.ts).
  ...EMPTY_SUBCOLLECTIONS.map((s) => r("GET", `/${s.parent}/:id/${s.sub}`, async (c) => (await empty()).list(c, s))),
  ...EMPTY_TOP_COLLECTIONS.flatMap((t) => [
    r("GET", `/${t.path}`, async (c) => (await empty()).listTop(c, t)),
    r("GET", `/${t.path}/:id`, async (c) => (await empty()).getTop(c, t)),
  ]),
];

/** Vela's own endpoints outside the oVirt API (JSON only). */
export const internalRoutes: RouteDef[] = [
  r("POST", "/vela/v1/hosts/register", h(internal, "register")),
  r("POST", "/vela/v1/hosts/enroll", h(enroll, "enroll")),
  r("GET", "/vela/v1/pki/ca", h(enroll, "caForToken")),
];

/**
 * Loads the WARM modules one at a time, awaiting `between()` before each (main.ts: until no
 * request is being answered), so that requests arriving meanwhile are answered first.
 */
export async function preload(between: () => Promise<void>): Promise<void> {
  for (const m of WARM) {
    await between();
    await m();
  }
}
