/** PUT on data centers, clusters, hosts, storage domains and templates (commands/UpdateEntity.ts); answers the updated object. */
import { runCommand } from "../../commands/command.js";
import { type Kind, KINDS, UpdateEntity } from "../../commands/UpdateEntity.js";
import { bodyOf, type Call, pathId, type Reply } from "../call.js";
import * as clusters from "./clusters.js";
import * as datacenters from "./datacenters.js";
import * as hosts from "./hosts.js";
import * as storagedomains from "./storagedomains.js";
import * as templates from "./templates.js";

async function update(c: Call, kind: Kind, root: string, get: (c: Call) => Promise<Reply>): Promise<Reply> {
  await runCommand(c.engine, UpdateEntity, { kind, id: pathId(c, "id", kind.what), body: bodyOf(c, [root]) });
  return get(c);
}

export const updateDataCenter = (c: Call) => update(c, KINDS.dataCenter, "data_center", datacenters.get);
export const updateCluster = (c: Call) => update(c, KINDS.cluster, "cluster", clusters.get);
export const updateHost = (c: Call) => update(c, KINDS.host, "host", hosts.get);
export const updateStorageDomain = (c: Call) => update(c, KINDS.storageDomain, "storage_domain", storagedomains.get);
export const updateTemplate = (c: Call) => update(c, KINDS.template, "template", templates.get);
