/**
 * Disk uploads from the browser through oVirt's imagetransfers API, as the SDK's upload_disk
 * does: a new disk sized from the file, a transfer, PUTs of the file in ranges to the transfer's
 * proxy_url (the engine's own origin, so no other host or certificate is involved), a flush,
 * finalize, and waiting for the engine's qemu-img check. A refused upload leaves nothing: the
 * disk this upload made is removed again. The file is read slice by slice (File.slice), never
 * whole into memory.
 */
import { ApiError, api } from "./api";

export type ImageFormat = "qcow2" | "raw";

/** What the file is, from its first bytes: qcow2 (magic QFI\xfb, with its virtual size) or raw bytes (an ISO too). */
export async function inspect(file: Blob): Promise<{ format: ImageFormat; virtualSize: number }> {
  const head = new DataView(await file.slice(0, 32).arrayBuffer());
  if (head.byteLength >= 32 && head.getUint32(0) === 0x514649fb) {
    return { format: "qcow2", virtualSize: Number(head.getBigUint64(24)) };
  }
  return { format: "raw", virtualSize: file.size };
}

/** Disks are whole MiB here: raw files are padded up to the next MiB (the tail reads as zeros). */
export function diskSize(virtualSize: number): number {
  const MiB = 2 ** 20;
  return Math.max(MiB, Math.ceil(virtualSize / MiB) * MiB);
}

export interface Progress {
  phase: "disk" | "starting" | "sending" | "checking" | "done";
  sent: number;
  total: number;
}

interface Transfer {
  id: string;
  phase: string;
  proxy_url?: string;
  description?: string;
}

/**
 * Bytes per PUT. Chromium spends most of its CPU per byte in each request's body (a Blob read in
 * small pieces): 16 MiB ranges took it ~1.4 s of CPU per 256 MiB against 1.5–2.4 s for 8 MiB, and
 * were faster in every round on this box; 32 MiB gained nothing more (docs/benchmarks.md, session 9).
 * An ArrayBuffer body instead of the Blob slice was 30× slower in Chromium.
 */
const CHUNK = 16 * 2 ** 20;
const WRITERS = 4;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new ApiError(0, "Timed out", what);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function putRange(url: string, body: Blob, offset: number): Promise<void> {
  const res = await fetch(`${url}?flush=n`, {
    method: "PUT",
    headers: { "content-range": `bytes ${offset}-${offset + body.size - 1}/*`, "content-type": "application/octet-stream" },
    body,
  });
  if (!res.ok) throw new ApiError(res.status, "Upload refused", (await res.text()).slice(0, 300));
}

/**
 * Uploads `file` as a new disk `alias` on storage domain `sd`; returns the disk id once the engine
 * accepted the image. `onProgress` is called as bytes go out and phases change.
 */
export async function uploadDisk(file: File, alias: string, sd: string, onProgress: (p: Progress) => void): Promise<string> {
  const { format, virtualSize } = await inspect(file);
  const total = file.size;
  onProgress({ phase: "disk", sent: 0, total });
  const disk = await api<{ id: string }>("POST", "/disks", {
    name: alias,
    provisioned_size: diskSize(virtualSize),
    format: format === "qcow2" ? "cow" : "raw",
    sparse: true,
    storage_domains: { storage_domain: [{ id: sd }] },
  });
  let kept = false;
  try {
    await until("the new disk", async () => ((await api<{ status?: string }>("GET", `/disks/${disk.id}`)).status === "ok" ? true : undefined));
    onProgress({ phase: "starting", sent: 0, total });
    const created = await api<Transfer>("POST", "/imagetransfers", { disk: { id: disk.id }, direction: "upload", format: format === "qcow2" ? "cow" : "raw" });
    const t = await until("the transfer to start", async () => {
      const g = await api<Transfer>("GET", `/imagetransfers/${created.id}`);
      if (g.phase.startsWith("finished")) throw new ApiError(409, "Transfer failed", g.description ?? g.phase);
      return g.phase === "transferring" && g.proxy_url ? g : undefined;
    });
    const url = t.proxy_url as string;
    try {
      // Up to WRITERS ranges in flight (the data path's max_writers): waiting for one answer overlaps sending the next.
      let next = 0;
      let sent = 0;
      const worker = async () => {
        while (next < total) {
          const off = next;
          next += CHUNK;
          const part = file.slice(off, Math.min(total, off + CHUNK));
          await putRange(url, part, off);
          sent += part.size;
          onProgress({ phase: "sending", sent, total });
        }
      };
      await Promise.all(Array.from({ length: WRITERS }, worker));
      const flush = await fetch(url, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ op: "flush" }) });
      if (!flush.ok) throw new ApiError(flush.status, "Upload refused", await flush.text());
    } catch (err) {
      await api("POST", `/imagetransfers/${t.id}/cancel`, {}).catch(() => undefined);
      throw err;
    }
    onProgress({ phase: "checking", sent: total, total });
    await api("POST", `/imagetransfers/${t.id}/finalize`, {});
    const end = await until("the engine to check the image", async () => {
      const g = await api<Transfer>("GET", `/imagetransfers/${t.id}`);
      return g.phase.startsWith("finished") ? g : undefined;
    });
    if (end.phase !== "finished_success") throw new ApiError(400, "Upload refused", end.description ?? end.phase);
    kept = true;
    onProgress({ phase: "done", sent: total, total });
    return disk.id;
  } finally {
    if (!kept) await removeWhenFree(disk.id);
  }
}

/** Removes the disk an upload made, once the transfer released it (best effort). */
async function removeWhenFree(id: string): Promise<void> {
  try {
    await until(
      "the disk to be released",
      async () => {
        const d = await api<{ status?: string }>("GET", `/disks/${id}`);
        return d.status === "locked" ? undefined : true;
      },
      60_000,
    );
    await api("DELETE", `/disks/${id}`);
  } catch {
    // the user sees the upload's own error; a disk left behind shows in the disk list
  }
}
