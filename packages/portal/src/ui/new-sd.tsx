/**
 * The "New storage domain" wizard: a name, what it holds (data or ISO), the host that creates it,
 * and where — a file domain (a local directory, an NFS export `server:/path`, or a POSIX file
 * system with its type and mount options) or a block domain on LUNs picked from what the host
 * sees (`GET /hosts/{id}/storage`; LUNs already in a volume group are shown but cannot be
 * picked) — then optionally attached to a data center. Checked before sending; the engine's
 * faults are shown in its words.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ApiError, api, items, message } from "../lib/api";
import { bytes } from "../lib/format";
import { usePoll } from "../lib/hooks";
import type { Host, Named } from "../lib/model";
import { Alert, CreateButtons } from "./widgets";

const NAME = /^[A-Za-z0-9_.-]{1,50}$/;
const ABS_PATH = /^\/[^\0]*$/;
const NFS = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\/[^\0]*)$/;

type Kind = "localfs" | "nfs" | "posixfs" | "block";

interface Lun {
  id: string;
  size?: string;
  vendor_id?: string;
  product_id?: string;
  volume_group_id?: string;
}

/** What is wrong with the wizard's fields, or undefined. */
export function checkSdForm(f: { name: string; host: string; kind: Kind; path: string; luns: string[] }): string | undefined {
  if (!NAME.test(f.name)) return "Name: 1 to 50 letters, digits, '.', '_' or '-'.";
  if (!f.host) return "Pick the host that creates the domain.";
  if (f.kind === "block") return f.luns.length ? undefined : "Pick at least one LUN.";
  if (f.kind === "nfs") return NFS.test(f.path) ? undefined : "Export: server:/path (a host name or address, a colon, an absolute path).";
  return ABS_PATH.test(f.path) ? undefined : "Path: an absolute path (starting with /).";
}

async function loadChoices(): Promise<{ hosts: Host[]; dcs: Named[] }> {
  const [h, d] = await Promise.all([api("GET", "/hosts"), api("GET", "/datacenters")]);
  return { hosts: items<Host>(h, "host").filter((x) => x.status === "up"), dcs: items<Named>(d, "data_center") };
}

export function NewStorageDomain(p: { onClose: (made: boolean) => void }): JSX.Element {
  const opts = usePoll(loadChoices, 60_000);
  const [name, setName] = useState("");
  const [type, setType] = useState("data");
  const [host, setHost] = useState("");
  const [kind, setKind] = useState<Kind>("localfs");
  const [path, setPath] = useState("");
  const [vfs, setVfs] = useState("");
  const [mountOptions, setMountOptions] = useState("");
  const [luns, setLuns] = useState<Lun[]>();
  const [picked, setPicked] = useState<string[]>([]);
  const [dc, setDc] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const hostId = host || opts.data?.hosts[0]?.id || "";
  const dcId = dc === "none" ? "" : dc || opts.data?.dcs[0]?.id || "";
  const findLuns = async () => {
    setError(undefined);
    try {
      const s = await api("GET", `/hosts/${encodeURIComponent(hostId)}/storage`);
      setLuns(items<{ logical_units?: { logical_unit?: Lun[] } }>(s, "host_storage").flatMap((x) => x.logical_units?.logical_unit ?? []));
    } catch (err) {
      setError(message(err));
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const bad = checkSdForm({ name, host: hostId, kind, path, luns: picked });
    if (bad) return setError(bad);
    setBusy(true);
    setError(undefined);
    try {
      const storage: Record<string, unknown> =
        kind === "block"
          ? { type: "iscsi", volume_group: { logical_units: { logical_unit: picked.map((id) => ({ id })) } } }
          : kind === "nfs"
            ? { type: "nfs", address: (NFS.exec(path) as RegExpExecArray)[1], path: (NFS.exec(path) as RegExpExecArray)[2] }
            : { type: kind, path, ...(kind === "posixfs" && vfs ? { vfs_type: vfs } : {}), ...(kind === "posixfs" && mountOptions ? { mount_options: mountOptions } : {}) };
      const sd = await api<{ id: string }>("POST", "/storagedomains", { name, type, host: { id: hostId }, storage });
      if (dcId) {
        // the data center may be busy (an SPM election): try again as the engine asks
        for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
          try {
            await api("POST", `/datacenters/${encodeURIComponent(dcId)}/storagedomains`, { id: sd.id });
            break;
          } catch (err) {
            if (!(err instanceof ApiError && err.status === 409 && /try again later/i.test(err.detail))) throw new Error(`Storage domain ${name} was created, but attaching it failed: ${message(err)}`);
            await new Promise((r) => setTimeout(r, wait));
          }
        }
      }
      p.onClose(true);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="newsd-title" noValidate>
      <h2 id="newsd-title">New storage domain</h2>
      <Alert text={error ?? opts.error} />
      <div class="grid">
        <label for="sd-name">Name</label>
        <input id="sd-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="sd-type">Holds</label>
        <select id="sd-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
          <option value="data">data (disks)</option>
          <option value="iso">ISO images</option>
        </select>
        <label for="sd-host">Host</label>
        <select id="sd-host" value={hostId} onChange={(e) => setHost(e.currentTarget.value)}>
          {opts.data?.hosts.map((h) => (
            <option value={h.id} key={h.id}>
              {h.name}
            </option>
          ))}
        </select>
        <label for="sd-kind">Storage</label>
        <select id="sd-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
          <option value="localfs">local directory</option>
          <option value="nfs">NFS export</option>
          <option value="posixfs">POSIX file system</option>
          <option value="block">block (LUNs)</option>
        </select>
        {kind !== "block" && (
          <>
            <label for="sd-path">{kind === "nfs" ? "Export" : "Path"}</label>
            <input id="sd-path" value={path} onInput={(e) => setPath(e.currentTarget.value)} placeholder={kind === "nfs" ? "server:/exports/data" : "/srv/vela/data"} />
          </>
        )}
        {kind === "posixfs" && (
          <>
            <label for="sd-vfs">File system type</label>
            <input id="sd-vfs" value={vfs} onInput={(e) => setVfs(e.currentTarget.value)} placeholder="e.g. ext4" />
            <label for="sd-mount">Mount options</label>
            <input id="sd-mount" value={mountOptions} onInput={(e) => setMountOptions(e.currentTarget.value)} />
          </>
        )}
        <label for="sd-dc">Attach to</label>
        <select id="sd-dc" value={dc || dcId} onChange={(e) => setDc(e.currentTarget.value)}>
          {opts.data?.dcs.map((d) => (
            <option value={d.id} key={d.id}>
              {d.name}
            </option>
          ))}
          <option value="none">no data center (attach later)</option>
        </select>
      </div>
      {kind === "block" && (
        <fieldset>
          <legend>LUNs</legend>
          <button type="button" onClick={findLuns} disabled={!hostId}>
            Find LUNs on the host
          </button>
          {luns?.length === 0 && <p class="muted">The host sees no LUNs.</p>}
          {luns?.map((l) => (
            <div class="row" key={l.id}>
              <label class="check">
                <input
                  type="checkbox"
                  disabled={!!l.volume_group_id}
                  checked={picked.includes(l.id)}
                  onChange={(e) => setPicked(e.currentTarget.checked ? [...picked, l.id] : picked.filter((x) => x !== l.id))}
                />{" "}
                {l.id} — {bytes(l.size)} {[l.vendor_id, l.product_id].filter(Boolean).join(" ")}
                {l.volume_group_id ? " (in use)" : ""}
              </label>
            </div>
          ))}
        </fieldset>
      )}
      <CreateButtons busy={busy} onCancel={() => p.onClose(false)} />
    </form>
  );
}
