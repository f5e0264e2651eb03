/**
 * Registers the images a domain already holds as disks, when the domain joins a data center
 * (imported, or detached from another one): each image becomes a disk whose id is the image
 * UUID, whose leaf and chain come from the volumes' own metadata and whose alias from the volume
 * description VDSM-style (`{"DiskAlias": …}`, the first volume of the chain that has one: snapshot
 * volumes carry none). Images the engine knows and template (SHARED) images are left alone. An
 * image with two or more leaves (a VM was previewing a snapshot, or a commit or restore stopped
 * half-way) is registered on its newest leaf by CTIME (same second: the longer chain, then the
 * higher UUID): the branch the VM last ran on or that the commit was keeping. The other branches'
 * volumes stay, recorded as volumes of the disk (deleted with it), never deleted here. Reads
 * only; never changes storage.
 */
import { type Disk, now } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { VolumeInfo } from "@vela/protocol";
import type { NodeTarget } from "../hosts/client.js";

interface VolInfo {
  uuid: string;
  parent: string;
  voltype: string;
  format: string;
  type: string;
  capacity: number;
  truesize: number;
  legality: string;
  description: string;
  ctime: number;
}

/** The node's volume info with its sizes and times as numbers. */
function volInfo(raw: VolumeInfo): VolInfo {
  return {
    uuid: raw.uuid,
    parent: raw.parent,
    voltype: raw.voltype,
    format: raw.format,
    type: raw.type,
    capacity: Number(raw.capacity),
    truesize: Number(raw.truesize),
    legality: raw.legality,
    description: raw.description,
    ctime: Number(raw.ctime) || 0,
  };
}

/** `{"DiskAlias": "x", "DiskDescription": "y"}` as the engine writes it; anything else is kept as the alias. */
export function aliasOf(desc: string, imgId: string): { alias: string; description: string } {
  try {
    const j = JSON.parse(desc) as { DiskAlias?: unknown; DiskDescription?: unknown };
    if (typeof j.DiskAlias === "string" && j.DiskAlias) return { alias: j.DiskAlias.slice(0, 255), description: String(j.DiskDescription ?? "").slice(0, 500) };
  } catch {
    /* not JSON */
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters never reach a name
  const clean = desc.replace(/[\u0000-\u001f\u007f/\\]/g, "").trim().slice(0, 255);
  return { alias: clean || `disk_${imgId.slice(0, 8)}`, description: "" };
}

/** The chain from `leaf` down through `vols` (the image's own volumes), leaf first. */
function chainFrom(vols: VolInfo[], leaf: VolInfo): VolInfo[] {
  const byId = new Map(vols.map((v) => [v.uuid, v]));
  const out: VolInfo[] = [];
  for (let v: VolInfo | undefined = leaf; v && out.length <= vols.length; v = byId.get(v.parent)) out.push(v);
  return out;
}

/** The leaf a disk is registered on: newest CTIME, then the longer chain, then the higher UUID. */
export function pickLeaf(vols: VolInfo[], leaves: VolInfo[]): VolInfo | undefined {
  const score = (l: VolInfo) => [l.ctime, chainFrom(vols, l).length] as const;
  return [...leaves].sort((a, b) => {
    const [ca, la] = score(a);
    const [cb, lb] = score(b);
    return cb - ca || lb - la || (a.uuid < b.uuid ? 1 : a.uuid > b.uuid ? -1 : 0);
  })[0];
}

/** The alias the engine wrote on the chain (the leaf first; snapshot volumes carry none), else the leaf's text. */
function aliasOnChain(chain: VolInfo[], imgId: string): { alias: string; description: string } {
  for (const v of chain) {
    try {
      const j = JSON.parse(v.description) as { DiskAlias?: unknown };
      if (typeof j.DiskAlias === "string" && j.DiskAlias) return aliasOf(v.description, imgId);
    } catch {
      /* not the engine's JSON */
    }
  }
  return aliasOf(chain[0]?.description ?? "", imgId);
}

/** A disk read from the domain: its row and its volumes' rows, not yet in the database. */
export interface FoundDisk {
  disk: Disk;
  images: { id: string; parent_id: string }[];
}

/**
 * Reads one image of the domain as the disk it would be registered as. Undefined for a
 * template's image and for an image without a leaf (logged). Reads only.
 */
export async function readImageDisk(e: Engine, host: NodeTarget, dcId: string, sdId: string, img: string): Promise<FoundDisk | undefined> {
  const client = e.nodes.for(host);
  const vols = await client.call("getVolumesList", { sdUUID: sdId, spUUID: dcId, imgUUID: img });
  const infos: VolInfo[] = [];
  for (const v of vols) {
    infos.push(volInfo(await client.call("getVolumeInfo", { sdUUID: sdId, spUUID: dcId, imgUUID: img, volUUID: v })));
  }
  const own = infos.filter((i) => i.voltype !== "SHARED" || !infos.some((x) => x.parent === i.uuid));
  if (infos.some((i) => i.voltype === "SHARED" && own.includes(i))) return undefined; // a template's image
  const leaves = own.filter((i) => i.voltype === "LEAF");
  const leaf = pickLeaf(own, leaves);
  if (!leaf) {
    e.log.warn({ sd: sdId, img }, "image not registered: it has no leaf");
    return undefined;
  }
  const chain = chainFrom(own, leaf);
  if (leaves.length > 1) {
    const others = leaves.filter((l) => l !== leaf).map((l) => l.uuid);
    e.log.warn({ sd: sdId, img, leaf: leaf.uuid, otherLeaves: others }, "image has branches: registered on its newest leaf, the other branches are kept");
  }
  const { alias, description } = aliasOnChain(chain, img);
  const disk: Disk = {
    id: img,
    image_id: leaf.uuid,
    storage_domain_id: sdId,
    alias,
    description,
    provisioned_size: leaf.capacity,
    actual_size: own.reduce((n, i) => n + (i.voltype === "SHARED" ? 0 : i.truesize), 0),
    initial_size: null,
    format: leaf.format === "RAW" ? "raw" : "cow",
    sparse: leaf.type === "PREALLOCATED" ? 0 : 1,
    shareable: 0,
    wipe_after_delete: 0,
    status: chain.every((i) => i.legality === "LEGAL") ? "ok" : "illegal",
    content_type: "data",
    template_id: null,
    created_at: now(),
    // the data center's default quota
    quota_id: null,
  };
  return { disk, images: own.filter((i) => i.voltype !== "SHARED").map((i) => ({ id: i.uuid, parent_id: i.parent })) };
}

/** Records a disk read from the domain (its row and its volumes' rows) in one transaction. */
export async function recordFoundDisk(e: Engine, found: FoundDisk): Promise<void> {
  await e.db.transaction().execute(async (tx) => {
    await tx.insertInto("disks").values(found.disk).execute();
    for (const i of found.images) await tx.insertInto("images").values({ ...i, disk_id: found.disk.id, snapshot_id: null, created_at: now() }).execute();
  });
}

/** The images on the domain that have no disk row (template images and leafless ones aside), read as disks. */
export async function unregisteredDisks(e: Engine, host: NodeTarget, dcId: string, sdId: string): Promise<FoundDisk[]> {
  const list: string[] = await e.nodes.for(host).call("getImagesList", { sdUUID: sdId });
  const known = new Set(list.length ? (await e.db.selectFrom("disks").select("id").where("id", "in", list).execute()).map((r) => r.id) : []);
  const out: FoundDisk[] = [];
  for (const img of list) {
    if (known.has(img)) continue;
    const found = await readImageDisk(e, host, dcId, sdId, img);
    if (found) out.push(found);
  }
  return out;
}

export async function registerDomainDisks(e: Engine, host: NodeTarget, dcId: string, sdId: string): Promise<number> {
  const found = await unregisteredDisks(e, host, dcId, sdId);
  for (const f of found) await recordFoundDisk(e, f);
  if (found.length) e.log.info({ sd: sdId, disks: found.length }, "registered disks found on the storage domain");
  return found.length;
}
