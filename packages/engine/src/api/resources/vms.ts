/** /vms: list, get, add, remove; start/stop/shutdown; disk attachments; snapshots and their preview. */
import { displayOf } from "../../console/index.js";
import { AddDiskAttachment } from "../../commands/AddDiskAttachment.js";
import { AddVm } from "../../commands/AddVm.js";
import { loadInitialization, type Stored } from "../../commands/cloudinit.js";
import { runCommand } from "../../commands/command.js";
import { AttachDisk } from "../../commands/AttachDisk.js";
import { DetachDisk } from "../../commands/DetachDisk.js";
import { disksOfVm, volumesOfSnapshot } from "../../db/repo/disks.js";
import { mustById } from "../../db/repo/entities.js";
import { generation } from "../../db/repo/generations.js";
import type { Db } from "../../db/index.js";
import { RemoveVm } from "../../commands/RemoveVm.js";
import { RunVm } from "../../commands/RunVm.js";
import { CommitSnapshot } from "../../commands/CommitSnapshot.js";
import { CreateSnapshot } from "../../commands/CreateSnapshot.js";
import { PreviewSnapshot } from "../../commands/PreviewSnapshot.js";
import { RemoveSnapshot } from "../../commands/RemoveSnapshot.js";
import { RestoreSnapshot } from "../../commands/RestoreSnapshot.js";
import { activeSnapshot, snapshotOf } from "../../commands/snapshotSteps.js";
import { UndoSnapshot } from "../../commands/UndoSnapshot.js";
import { ShutdownVm } from "../../commands/ShutdownVm.js";
import { StopVm } from "../../commands/StopVm.js";
import { UpdateVm } from "../../commands/UpdateVm.js";
import { ResumeVm } from "../../commands/ResumeVm.js";
import type { Disk, DiskAttachment, Vm } from "../../db/schema.js";
import { longAction, settleIfAsked } from "../actions.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { notFound } from "../../errors/fault.js";
import { ref } from "../href.js";
import { collection, type Rep, sealed } from "../repr.js";
import { refNames } from "../ref-names.js";
import { applySearch } from "../search.js";
import { ViewCache } from "../view-cache.js";
import { diskAttachmentView, snapshotDiskView, snapshotView, vmView } from "../views.js";

/** Kept VM views (a view is a pure function of its row; see view-cache.ts). */
const vmViews = new ViewCache<Vm>(vmView);

/**
 * The list of every VM (no search=, no max=), kept sealed — rendered, and compressed for clients
 * that take gzip, once — under the database's `vms` generation (migration 0017: a trigger bumps it
 * on every write to `vms`, by any process). A VM's view is a function of its row alone, so while
 * the generation stands the list is the same; a request then costs one single-row read.
 */
const keptLists = new WeakMap<Db, { gen: number; rep: Rep }>();

export async function list(c: Call): Promise<Reply> {
  const whole = !c.query.search && c.query.max === undefined;
  const gen = whole ? await generation(c.engine.db, "vms") : undefined;
  const kept = keptLists.get(c.engine.db);
  if (whole && kept && kept.gen === gen) return ok("vms", kept.rep);
  // the first N by name without a search (the portal's first screenful): only N rows read
  const max = Number(c.query.max);
  // (a larger max than any list, e.g. 1e20, is no LIMIT: the databases take only 64-bit integers)
  const limit = !c.query.search && c.query.max !== undefined && Number.isSafeInteger(max) && max >= 0 ? max : undefined;
  // read after the generation: what is kept under it is never older than it
  const rows = await c.engine.db
    .selectFrom("vms")
    .selectAll()
    .orderBy("name")
    .$if(limit !== undefined, (q) => q.limit(limit as number))
    .execute();
  if (whole) vmViews.keepOnly(new Set(rows.map((r) => r.id)));
  if (whole && gen !== undefined) {
    const rep = sealed(collection("vm", rows.map((r) => vmViews.get(r))));
    keptLists.set(c.engine.db, { gen, rep });
    return ok("vms", rep);
  }
  const n = await refNames(c.engine);
  const found = applySearch(rows, c.query, {
    name: (r: Vm) => r.name,
    id: (r) => r.id,
    status: (r) => r.status,
    cluster: (r) => n.cluster(r.cluster_id),
    datacenter: (r) => n.dcOfCluster(r.cluster_id),
    host: (r) => n.host(r.run_on_host_id),
    template: (r) => n.template(r.template_id),
    memory: (r) => r.memory,
  });
  return ok("vms", collection("vm", found.map((r) => vmViews.get(r))));
}

/** The API view: everything but the password (oVirt never returns it). */
function initializationView(s: Stored): Rep {
  return {
    host_name: s.host_name,
    user_name: s.user_name,
    authorized_ssh_keys: s.authorized_ssh_keys?.join("\n"),
    custom_script: s.custom_script,
    dns_servers: s.dns_servers?.join(" "),
    dns_search: s.dns_search?.join(" "),
    nic_configurations: s.nic_configurations
      ? {
          nic_configuration: s.nic_configurations.map((n) => ({
            name: n.name,
            boot_protocol: n.boot_protocol,
            on_boot: n.on_boot,
            ip: n.ip ? { address: n.ip.address, netmask: n.ip.netmask, gateway: n.ip.gateway } : undefined,
          })),
        }
      : undefined,
  };
}

/** A VM with its cloud-init initialization (without the password), as oVirt shows it. */
async function fullView(c: Call, vm: Vm): Promise<Rep> {
  const init = await loadInitialization(c.engine, vm.id);
  return { ...vmView(vm), ...(init ? { initialization: initializationView(init) } : {}) };
}

export async function get(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  const rep = await fullView(c, vm);
  // A running VM's display says where its console listens (remote-viewer through libgovirt reads it).
  const live = vm.status === "down" ? undefined : await displayOf(c.engine, vm.id).catch(() => undefined);
  if (live) rep.display = { ...(rep.display as Rep), address: live.address, port: live.port };
  return ok("vm", rep);
}

export async function add(c: Call): Promise<Reply> {
  const clone = (c.query.clone ?? "false").toLowerCase() === "true";
  const r = await runCommand(c.engine, AddVm, { body: bodyOf(c, ["vm"]), clone });
  if (r.started) await settleIfAsked(c, r.started);
  return ok("vm", await fullView(c, (await c.engine.db.selectFrom("vms").selectAll().where("id", "=", r.vm.id).executeTakeFirst()) ?? r.vm), 201);
}

export async function update(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  return ok("vm", await fullView(c, await runCommand(c.engine, UpdateVm, { id, body: bodyOf(c, ["vm"]) })));
}

export async function remove(c: Call): Promise<Reply> {
  const detachOnly = (c.query.detach_only ?? "false").toLowerCase() === "true";
  await runCommand(c.engine, RemoveVm, { id: pathId(c, "id", "VM"), detachOnly });
  return { status: 200 };
}

function actionReply(vm: Vm): Reply {
  return ok("action", { status: "complete", vm: ref("vms", vm.id) });
}

export async function start(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  // As in oVirt, starting a paused (suspended) VM resumes it.
  const current = await mustById(c.engine, "vms", id);
  if (current.status === "paused" || current.status === "suspended") {
    bodyOf(c, ["action"]);
    return actionReply(await runCommand(c.engine, ResumeVm, { id }));
  }
  return actionReply(await runCommand(c.engine, RunVm, { id, body: bodyOf(c, ["action"]) }));
}

export async function stop(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return actionReply(await runCommand(c.engine, StopVm, { id }));
}

export async function shutdown(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return actionReply(await runCommand(c.engine, ShutdownVm, { id }));
}

export async function diskAttachments(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  const rows = await c.engine.db.selectFrom("disk_attachments").selectAll().where("vm_id", "=", vm.id).execute();
  return ok("disk_attachments", collection("disk_attachment", rows.map(diskAttachmentView)));
}

/** The disk attachments of many VMs (follow=disk_attachments on a list): two queries, whatever the count. */
export async function diskAttachmentsBatch(cs: Call[]): Promise<Reply[]> {
  const engine = cs[0]?.engine;
  if (!engine) return [];
  const ids = cs.map((c) => pathId(c, "id", "VM"));
  const known = new Set<string>();
  const byVm = new Map<string, DiskAttachment[]>();
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const part = ids.slice(i, i + IN_CHUNK);
    for (const v of await engine.db.selectFrom("vms").select("id").where("id", "in", part).execute()) known.add(v.id);
    for (const a of await engine.db.selectFrom("disk_attachments").selectAll().where("vm_id", "in", part).execute()) {
      const l = byVm.get(a.vm_id) ?? [];
      l.push(a);
      byVm.set(a.vm_id, l);
    }
  }
  return ids.map((id) => {
    if (!known.has(id)) throw notFound("VM", id);
    return ok("disk_attachments", collection("disk_attachment", (byVm.get(id) ?? []).map(diskAttachmentView)));
  });
}

/** Ids per `IN (…)` (SQLite and PostgreSQL both bound the parameters of one statement). */
const IN_CHUNK = 1000;

export async function diskAttachment(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  await mustById(c.engine, "vms", vmId);
  const diskId = pathId(c, "disk", "Disk attachment");
  const att = await c.engine.db.selectFrom("disk_attachments").selectAll().where("vm_id", "=", vmId).where("disk_id", "=", diskId).executeTakeFirst();
  if (!att) throw notFound("Disk attachment", diskId);
  return ok("disk_attachment", diskAttachmentView(att));
}

export async function attachDisk(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  const body = bodyOf(c, ["disk_attachment"]);
  const disk = (body as { disk?: unknown }).disk;
  // A disk without an id but with a size is a new disk to create and attach (as oVirt allows).
  const isNew = typeof disk === "object" && disk !== null && !("id" in disk) && "provisioned_size" in disk;
  const att = isNew ? await runCommand(c.engine, AddDiskAttachment, { vmId, body }) : await runCommand(c.engine, AttachDisk, { vmId, body });
  return ok("disk_attachment", diskAttachmentView(att), 201);
}

export async function detachDisk(c: Call): Promise<Reply> {
  await runCommand(c.engine, DetachDisk, { vmId: pathId(c, "id", "VM"), diskId: pathId(c, "disk", "Disk attachment") });
  return { status: 200 };
}


// ------------------------------------------------------------------------------------ snapshots

export async function snapshots(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  await activeSnapshot(c.engine, vm.id);
  const rows = await c.engine.db.selectFrom("snapshots").selectAll().where("vm_id", "=", vm.id).orderBy("created_at").execute();
  // oVirt lists the active snapshot last.
  rows.sort((a, b) => Number(a.type === "active") - Number(b.type === "active"));
  return ok("snapshots", collection("snapshot", rows.map(snapshotView)));
}

export async function snapshot(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  await mustById(c.engine, "vms", vmId);
  return ok("snapshot", snapshotView(await snapshotOf(c.engine, vmId, pathId(c, "snap", "Snapshot"))));
}

export async function snapshotDisks(c: Call): Promise<Reply> {
  const { s, rows } = await snapshotDiskRows(c);
  return ok("disks", collection("disk", rows.map((r) => snapshotDiskView(r.disk, s, r.vol))));
}

/** One disk of a snapshot, at the href its view gives. */
export async function snapshotDisk(c: Call): Promise<Reply> {
  const diskId = pathId(c, "disk", "Disk");
  const { s, rows } = await snapshotDiskRows(c);
  const r = rows.find((x) => x.disk.id === diskId);
  if (!r) throw notFound("Disk", diskId);
  return ok("disk", snapshotDiskView(r.disk, s, r.vol));
}

/** The disks a snapshot holds, each with the snapshot's volume of it. */
async function snapshotDiskRows(c: Call) {
  const vmId = pathId(c, "id", "VM");
  await mustById(c.engine, "vms", vmId);
  const s = await snapshotOf(c.engine, vmId, pathId(c, "snap", "Snapshot"));
  let rows: { disk: Disk; vol: string }[];
  if (s.type === "active") {
    rows = (await disksOfVm(c.engine, vmId)).map((d) => ({ disk: d, vol: d.image_id }));
  } else {
    rows = await volumesOfSnapshot(c.engine, s.id);
  }
  return { s, rows };
}

export async function addSnapshot(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  const r = await runCommand(c.engine, CreateSnapshot, { vmId, body: bodyOf(c, ["snapshot"]) });
  await settleIfAsked(c, r);
  const row = await snapshotOf(c.engine, vmId, r.snap.id).catch(() => r.snap);
  return ok("snapshot", snapshotView(row), 201);
}

export async function removeSnapshot(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  const r = await runCommand(c.engine, RemoveSnapshot, { vmId, snapId: pathId(c, "snap", "Snapshot") });
  await settleIfAsked(c, r);
  return { status: 200 };
}

export async function restoreSnapshot(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  const snapId = pathId(c, "snap", "Snapshot");
  const r = await runCommand(c.engine, RestoreSnapshot, { vmId, snapId, body: bodyOf(c, ["action"]) });
  return longAction(c, r, { snapshot: { href: `${ref("vms", vmId)?.href}/snapshots/${snapId}`, id: snapId } });
}

export async function previewSnapshot(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  const r = await runCommand(c.engine, PreviewSnapshot, { vmId, body: bodyOf(c, ["action"]) });
  return longAction(c, r, { vm: ref("vms", vmId) });
}

export async function commitSnapshot(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return longAction(c, await runCommand(c.engine, CommitSnapshot, { vmId }), { vm: ref("vms", vmId) });
}

export async function undoSnapshot(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return longAction(c, await runCommand(c.engine, UndoSnapshot, { vmId }), { vm: ref("vms", vmId) });
}
