/**
 * Sub-collections oVirt has and Vela does not fill yet, served empty so that clients which read
 * them on every run work unchanged: Ansible's ovirt_vm reads a VM's numanodes (and the SDK's
 * `follow`/info modules walk watchdogs, host devices, tags, affinity labels, …). The parent must
 * exist (404 otherwise). Top-level collections of features Vela does not have (tags, bookmarks,
 * instance types, external providers, …) are served empty too, with 404 for any id, so that a
 * script listing every collection the SDK offers gets answers. Only the tables: the handlers are
 * in resources/empty.ts, loaded lazily.
 */
export interface EmptySub {
  /** Parent collection path and its table, for the existence check. */
  parent: "vms" | "hosts" | "datacenters" | "clusters" | "templates";
  sub: string;
  /** XML root (plural) and item (singular) element names, as oVirt names them. */
  root: string;
  item: string;
}

const e = (parent: EmptySub["parent"], sub: string, root: string, item: string): EmptySub => ({ parent, sub, root, item });

export const EMPTY_SUBCOLLECTIONS: EmptySub[] = [
  e("vms", "numanodes", "vm_numa_nodes", "vm_numa_node"),
  e("vms", "hostdevices", "host_devices", "host_device"),
  e("vms", "watchdogs", "watchdogs", "watchdog"),
  e("vms", "tags", "tags", "tag"),
  e("vms", "affinitylabels", "affinity_labels", "affinity_label"),
  e("vms", "applications", "applications", "application"),
  e("vms", "sessions", "sessions", "session"),
  e("vms", "reporteddevices", "reported_devices", "reported_device"),
  e("vms", "katelloerrata", "katello_errata", "katello_erratum"),
  e("vms", "mediateddevices", "vm_mediated_devices", "vm_mediated_device"),
  e("hosts", "numanodes", "host_numa_nodes", "host_numa_node"),
  e("hosts", "hooks", "hooks", "hook"),
  e("hosts", "devices", "host_devices", "host_device"),
  e("hosts", "tags", "tags", "tag"),
  e("hosts", "affinitylabels", "affinity_labels", "affinity_label"),
  e("hosts", "katelloerrata", "katello_errata", "katello_erratum"),
  // iSCSI CHAP credentials per host (Vela's block domains have no iSCSI logins with credentials)
  e("hosts", "storageconnectionextensions", "storage_connection_extensions", "storage_connection_extension"),
  e("datacenters", "qoss", "qoss", "qos"),
  e("datacenters", "iscsibonds", "iscsi_bonds", "iscsi_bond"),
  e("clusters", "affinitygroups", "affinity_groups", "affinity_group"),
  e("clusters", "enabledfeatures", "cluster_features", "cluster_feature"),
  e("templates", "watchdogs", "watchdogs", "watchdog"),
  e("templates", "tags", "tags", "tag"),
  e("templates", "cdroms", "cdroms", "cdrom"),
];

/** A top-level collection served empty: its path, XML root (plural) and item (singular) names. */
export interface EmptyTop {
  path: string;
  root: string;
  item: string;
  /** What the 404 for an id calls the object. */
  what: string;
}

const t = (path: string, root: string, item: string, what: string): EmptyTop => ({ path, root, item, what });

export const EMPTY_TOP_COLLECTIONS: EmptyTop[] = [
  t("affinitylabels", "affinity_labels", "affinity_label", "Affinity Label"),
  t("bookmarks", "bookmarks", "bookmark", "Bookmark"),
  t("externalhostproviders", "external_host_providers", "external_host_provider", "External Host Provider"),
  t("icons", "icons", "icon", "Icon"),
  t("instancetypes", "instance_types", "instance_type", "Instance Type"),
  t("katelloerrata", "katello_errata", "katello_erratum", "Katello Erratum"),
  t("networkfilters", "network_filters", "network_filter", "Network Filter"),
  t("openstackimageproviders", "openstack_image_providers", "openstack_image_provider", "OpenStack Image Provider"),
  t("openstacknetworkproviders", "openstack_network_providers", "openstack_network_provider", "OpenStack Network Provider"),
  t("openstackvolumeproviders", "openstack_volume_providers", "openstack_volume_provider", "OpenStack Volume Provider"),
  t("tags", "tags", "tag", "Tag"),
];
