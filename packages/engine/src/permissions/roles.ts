/**
 * Action groups (oVirt's permits) and the predefined roles made of them. Roles are code, not
 * rows: the database stores only a permission's role id. Administrative roles open the admin
 * view (Filter: false); user roles only the user view. Names follow oVirt's; the ids are Vela's
 * own stable UUIDs (SuperUser's is oVirt's well-known one). Administrators' own roles are rows
 * (custom-roles.ts).
 */
import { SUPER_USER_ROLE_ID } from "../db/ids.js";

export const ACTION_GROUPS = [
  "login",
  // VMs
  "create_vm",
  "delete_vm",
  "edit_vm_properties",
  "vm_basic_operations",
  "change_vm_cd",
  "connect_to_vm",
  "configure_vm_network",
  "configure_vm_storage",
  "manipulate_vm_snapshots",
  // templates
  "create_template",
  "edit_template_properties",
  "delete_template",
  // disks
  "create_disk",
  "attach_disk",
  "edit_disk_properties",
  "delete_disk",
  "configure_disk_storage",
  // hosts
  "create_host",
  "edit_host_configuration",
  "delete_host",
  "manipulate_host",
  "configure_host_network",
  // clusters
  "create_cluster",
  "edit_cluster_configuration",
  "delete_cluster",
  "configure_cluster_network",
  // data centers (oVirt's "storage pool")
  "create_storage_pool",
  "edit_storage_pool_configuration",
  "delete_storage_pool",
  "create_storage_pool_network",
  "configure_storage_pool_network",
  "delete_storage_pool_network",
  "configure_network_vnic_profile",
  // storage domains
  "create_storage_domain",
  "edit_storage_domain_configuration",
  "delete_storage_domain",
  "manipulate_storage_domain",
  // users, roles, permissions
  "manipulate_users",
  "manipulate_roles",
  "manipulate_permissions",
  // quotas (added last: a permit's id is its position)
  "configure_quota",
  "consume_quota",
] as const;

export type ActionGroup = (typeof ACTION_GROUPS)[number];

export interface Role {
  id: string;
  name: string;
  description: string;
  administrative: boolean;
  permits: readonly ActionGroup[];
  /** Custom roles (custom-roles.ts) may be changed; the predefined ones here may not. */
  mutable?: boolean;
}

const VM_USE: ActionGroup[] = ["login", "vm_basic_operations", "change_vm_cd", "connect_to_vm"];
const VM_OWN: ActionGroup[] = [...VM_USE, "delete_vm", "edit_vm_properties", "configure_vm_network", "configure_vm_storage", "manipulate_vm_snapshots", "manipulate_permissions"];
const DISK_OWN: ActionGroup[] = ["login", "attach_disk", "edit_disk_properties", "delete_disk", "configure_disk_storage", "manipulate_permissions"];
const TEMPLATE_OWN: ActionGroup[] = ["login", "edit_template_properties", "delete_template", "manipulate_permissions"];
const HOST_ALL: ActionGroup[] = ["create_host", "edit_host_configuration", "delete_host", "manipulate_host", "configure_host_network"];
const STORAGE_ALL: ActionGroup[] = ["create_storage_domain", "edit_storage_domain_configuration", "delete_storage_domain", "manipulate_storage_domain"];
const NETWORK_ALL: ActionGroup[] = [
  "create_storage_pool_network",
  "configure_storage_pool_network",
  "delete_storage_pool_network",
  "configure_network_vnic_profile",
  "configure_cluster_network",
];
const CLUSTER_ALL: ActionGroup[] = [
  "edit_cluster_configuration",
  "delete_cluster",
  "configure_cluster_network",
  ...HOST_ALL,
  ...VM_OWN,
  "create_vm",
  "create_template",
  ...TEMPLATE_OWN,
  "create_disk",
  ...DISK_OWN,
  "consume_quota",
];

function role(n: number, name: string, administrative: boolean, description: string, permits: ActionGroup[]): Role {
  const id = `00000000-0000-0000-0001-${n.toString(16).padStart(12, "0")}`;
  return { id, name, description, administrative, permits: [...new Set(permits)] };
}

export const ROLES: readonly Role[] = [
  { id: SUPER_USER_ROLE_ID, name: "SuperUser", description: "Roles management administrator", administrative: true, permits: ACTION_GROUPS },
  role(2, "DataCenterAdmin", true, "Administrator Role, permission for all the objects underneath a specific Data Center", [
    "login",
    "edit_storage_pool_configuration",
    "delete_storage_pool",
    "create_cluster",
    "configure_quota",
    ...CLUSTER_ALL,
    ...STORAGE_ALL,
    ...NETWORK_ALL,
  ]),
  role(3, "ClusterAdmin", true, "Administrator Role, permission for all the objects underneath a specific Cluster", ["login", ...CLUSTER_ALL]),
  role(4, "HostAdmin", true, "Host Administrator", ["login", ...HOST_ALL]),
  role(5, "StorageAdmin", true, "Storage Administrator", ["login", ...STORAGE_ALL, "create_disk", ...DISK_OWN]),
  role(6, "NetworkAdmin", true, "Network Administrator", ["login", ...NETWORK_ALL]),
  role(7, "TemplateAdmin", true, "Administrator with permission for all operations on Templates", ["login", "create_template", ...TEMPLATE_OWN]),
  role(8, "UserRole", false, "Standard User Role", VM_USE),
  role(9, "PowerUserRole", false, "User Role, allowed to create VMs, Templates and Disks", [...VM_USE, "create_vm", "create_template", "create_disk"]),
  role(10, "UserVmManager", false, "User Role, with permission for any operation on Vms", VM_OWN),
  role(11, "VmCreator", false, "User Role, permission to create VMs", ["login", "create_vm"]),
  role(12, "TemplateCreator", false, "User Role, permission to create Templates", ["login", "create_template"]),
  role(13, "DiskCreator", false, "User Role, permission to create Disks", ["login", "create_disk"]),
  role(14, "DiskOperator", false, "User Role, permissions for all operations on a specific disk", DISK_OWN),
  role(15, "TemplateOwner", false, "User Role, permissions for all operations on Templates", TEMPLATE_OWN),
  role(16, "UserTemplateBasedVm", false, "User Role, with permission to use Templates", ["login"]),
  role(17, "QuotaConsumer", false, "User Role, permission to consume a Quota", ["login", "consume_quota"]),
];

export function roleById(id: string): Role | undefined {
  return ROLES.find((r) => r.id === id);
}

export function roleByName(name: string): Role | undefined {
  return ROLES.find((r) => r.name === name);
}

/** A permit's id: its position in ACTION_GROUPS, as oVirt numbers its action groups. */
export function permitId(g: ActionGroup): string {
  return String(ACTION_GROUPS.indexOf(g) + 1);
}
