/**
 * The "New VM" form: name, cluster, template (its disks are copied into the new VM), memory, new
 * disks (size, storage domain, thin or preallocated), NICs (a vNIC profile each), cloud-init (host
 * name, root password, SSH keys, custom script) and an optional start once created. Checked in
 * the browser before sending (name, memory, sizes, host name, key shapes); the engine's fault is
 * shown as it says it, and the form keeps what was typed. The VM is created first (with its
 * cloud-init), then its disks and NICs: a refusal part-way says what exists already.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ApiError, api, items, message } from "../lib/api";
import { usePoll } from "../lib/hooks";
import { attachedData, type Named, type StorageDomain, type VnicProfile } from "../lib/model";
import { Alert, CreateButtons } from "../ui/widgets";

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const SSH_KEY = /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MAX_DISK_GIB = 64 * 1024;

interface DiskRow {
  size: string;
  domain: string;
  thin: boolean;
}

interface NicRow {
  profile: string;
}

export interface CloudInit {
  hostName: string;
  rootPassword: string;
  sshKeys: string;
  script: string;
}

async function choices(): Promise<{ clusters: Named[]; templates: Named[]; domains: StorageDomain[]; profiles: VnicProfile[] }> {
  const [c, t, s, v] = await Promise.all([api("GET", "/clusters"), api("GET", "/templates"), api("GET", "/storagedomains"), api("GET", "/vnicprofiles")]);
  return {
    clusters: items<Named>(c, "cluster"),
    templates: items<Named>(t, "template"),
    domains: items<StorageDomain>(s, "storage_domain").filter(attachedData),
    profiles: items<VnicProfile>(v, "vnic_profile"),
  };
}

/** What is wrong with the form, or undefined. */
export function checkVmForm(name: string, memoryMiB: string, disks: DiskRow[] = [], init?: CloudInit): string | undefined {
  if (!NAME.test(name)) return "Name: 1 to 64 letters, digits, '.', '_' or '-'.";
  if (memoryMiB !== "") {
    const m = Number(memoryMiB);
    if (!Number.isInteger(m) || m < 16 || m > 4 * 1024 * 1024) return "Memory: a whole number of MiB from 16 to 4194304.";
  }
  for (const [i, d] of disks.entries()) {
    const g = Number(d.size);
    if (d.size.trim() === "" || !Number.isFinite(g) || g <= 0 || g > MAX_DISK_GIB) return `Disk ${i + 1}: a size in GiB above 0 and up to ${MAX_DISK_GIB}.`;
    if (!d.domain) return `Disk ${i + 1}: pick a storage domain.`;
  }
  if (init) {
    if (init.hostName && !HOST_NAME.test(init.hostName)) return "Host name: letters, digits, hyphens and dots.";
    const bad = init.sshKeys
      .split("\n")
      .map((l) => l.trim())
      .findIndex((l) => l !== "" && !SSH_KEY.test(l));
    if (bad >= 0) return `SSH keys: line ${bad + 1} is not a public key (type, base64 key, optional comment).`;
  }
  return undefined;
}

/**
 * Runs `call`, again while the engine answers that a related operation is in progress (409 "try
 * again later", as a new disk's creation holds its VM), for up to two minutes.
 */
async function whenFree<T>(call: () => Promise<T>): Promise<T> {
  const until = Date.now() + 120_000;
  for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409 && /try again later/i.test(err.detail)) || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** oVirt's `initialization` from the cloud-init fields, undefined when all are empty. */
function initialization(c: CloudInit): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (c.hostName) out.host_name = c.hostName;
  if (c.rootPassword) {
    out.user_name = "root";
    out.root_password = c.rootPassword;
  }
  if (c.sshKeys.trim()) out.authorized_ssh_keys = c.sshKeys.trim();
  if (c.script.trim()) out.custom_script = c.script;
  return Object.keys(out).length ? out : undefined;
}

export function NewVm(p: { onClose: (made: boolean) => void }): JSX.Element {
  const opts = usePoll(choices, 60_000);
  const [name, setName] = useState("");
  const [cluster, setCluster] = useState("");
  const [template, setTemplate] = useState("");
  const [memory, setMemory] = useState("");
  const [start, setStart] = useState(false);
  const [disks, setDisks] = useState<DiskRow[]>([]);
  const [nics, setNics] = useState<NicRow[]>([]);
  const [init, setInit] = useState<CloudInit>({ hostName: "", rootPassword: "", sshKeys: "", script: "" });
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const clusters = opts.data?.clusters ?? [];
  const templates = opts.data?.templates ?? [];
  const domains = opts.data?.domains ?? [];
  const profiles = opts.data?.profiles ?? [];
  const clusterId = cluster || clusters[0]?.id || "";
  const templateId = template || templates.find((t) => t.name !== "Blank")?.id || templates[0]?.id || "";
  const blank = templates.find((t) => t.id === templateId)?.name === "Blank";
  const setDisk = (i: number, d: Partial<DiskRow>) => setDisks(disks.map((x, j) => (j === i ? { ...x, ...d } : x)));
  const setInitField = (k: keyof CloudInit, v: string) => setInit({ ...init, [k]: v });
  const submit = async (e: Event) => {
    e.preventDefault();
    const bad = checkVmForm(name, memory, disks, init) ?? (clusterId ? undefined : "There is no cluster to put the VM in.") ?? (nics.some((n) => !n.profile) ? "NIC: pick a vNIC profile." : undefined);
    if (bad) return setError(bad);
    setBusy(true);
    setError(undefined);
    let made: string | undefined;
    try {
      const body: Record<string, unknown> = { name, cluster: { id: clusterId } };
      if (templateId) body.template = { id: templateId };
      if (memory) body.memory = String(Number(memory) * MiB);
      const ci = initialization(init);
      if (ci) body.initialization = ci;
      const vm = await api<{ id: string }>("POST", "/vms", body);
      made = vm.id;
      const base = `/vms/${encodeURIComponent(vm.id)}`;
      // NICs first (they are added at once); each new disk holds the VM until its volume exists,
      // so what follows waits as the engine asks ("try again later").
      for (const [i, n] of nics.entries()) {
        await api("POST", `${base}/nics`, { name: `nic${i + 1}`, interface: "virtio", vnic_profile: { id: n.profile } }).catch((err: unknown) => {
          throw new Error(`NIC ${i + 1}: ${message(err)}`);
        });
      }
      for (const [i, d] of disks.entries()) {
        const att = {
          disk: {
            alias: `${name}_disk${i + 1}`,
            provisioned_size: String(Math.round(Number(d.size) * GiB)),
            format: d.thin ? "cow" : "raw",
            sparse: d.thin,
            storage_domains: { storage_domain: [{ id: d.domain }] },
          },
          interface: "virtio",
          bootable: blank && i === 0,
          active: true,
        };
        await whenFree(() => api("POST", `${base}/diskattachments`, att)).catch((err: unknown) => {
          throw new Error(`Disk ${i + 1}: ${message(err)}`);
        });
      }
      if (start) await whenFree(() => api("POST", `${base}/start`, {}));
      p.onClose(true);
    } catch (err) {
      setError(made ? `VM ${name} was created, but: ${message(err)}` : message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="newvm-title" noValidate>
      <h2 id="newvm-title">New virtual machine</h2>
      <Alert text={error ?? opts.error} />
      <div class="grid">
        <label for="vm-name">Name</label>
        <input id="vm-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <label for="vm-cluster">Cluster</label>
        <select id="vm-cluster" value={clusterId} onChange={(e) => setCluster(e.currentTarget.value)}>
          {clusters.map((c) => (
            <option value={c.id} key={c.id}>
              {c.name}
            </option>
          ))}
        </select>
        <label for="vm-template">Template</label>
        <select id="vm-template" value={templateId} onChange={(e) => setTemplate(e.currentTarget.value)}>
          {templates.map((t) => (
            <option value={t.id} key={t.id}>
              {t.name}
            </option>
          ))}
        </select>
        <label for="vm-memory">Memory (MiB)</label>
        <input id="vm-memory" inputMode="numeric" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} placeholder="the template's" />
        <span />
        <label class="check">
          <input type="checkbox" checked={start} onChange={(e) => setStart(e.currentTarget.checked)} /> Run once created
        </label>
      </div>
      <fieldset>
        <legend>New disks</legend>
        {disks.map((d, i) => (
          <div class="row" key={i}>
            <label for={`disk-size-${i}`}>Disk {i + 1} size (GiB)</label>
            <input id={`disk-size-${i}`} inputMode="decimal" size={6} value={d.size} onInput={(e) => setDisk(i, { size: e.currentTarget.value })} />
            <label for={`disk-sd-${i}`} class="sr-only">
              Disk {i + 1} storage domain
            </label>
            <select id={`disk-sd-${i}`} value={d.domain} onChange={(e) => setDisk(i, { domain: e.currentTarget.value })}>
              <option value="">storage domain…</option>
              {domains.map((s) => (
                <option value={s.id} key={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
            <label for={`disk-alloc-${i}`} class="sr-only">
              Disk {i + 1} allocation
            </label>
            <select id={`disk-alloc-${i}`} value={d.thin ? "thin" : "preallocated"} onChange={(e) => setDisk(i, { thin: e.currentTarget.value === "thin" })}>
              <option value="thin">thin (qcow2)</option>
              <option value="preallocated">preallocated (raw)</option>
            </select>
            <button type="button" onClick={() => setDisks(disks.filter((_, j) => j !== i))} aria-label={`Remove disk ${i + 1}`}>
              ×
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setDisks([...disks, { size: "1", domain: domains[0]?.id ?? "", thin: true }])}>
          Add disk
        </button>
      </fieldset>
      <fieldset>
        <legend>Network interfaces</legend>
        {nics.map((n, i) => (
          <div class="row" key={i}>
            <label for={`nic-${i}`}>NIC {i + 1} vNIC profile</label>
            <select id={`nic-${i}`} value={n.profile} onChange={(e) => setNics(nics.map((x, j) => (j === i ? { profile: e.currentTarget.value } : x)))}>
              <option value="">profile…</option>
              {profiles.map((v) => (
                <option value={v.id} key={v.id}>
                  {v.name}
                </option>
              ))}
            </select>
            <button type="button" onClick={() => setNics(nics.filter((_, j) => j !== i))} aria-label={`Remove NIC ${i + 1}`}>
              ×
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setNics([...nics, { profile: profiles[0]?.id ?? "" }])}>
          Add NIC
        </button>
      </fieldset>
      <fieldset>
        <legend>Cloud-init</legend>
        <div class="grid">
          <label for="ci-host">Host name</label>
          <input id="ci-host" value={init.hostName} onInput={(e) => setInitField("hostName", e.currentTarget.value)} />
          <label for="ci-pw">Root password</label>
          <input id="ci-pw" type="password" autoComplete="new-password" value={init.rootPassword} onInput={(e) => setInitField("rootPassword", e.currentTarget.value)} />
          <label for="ci-keys">SSH keys</label>
          <textarea id="ci-keys" value={init.sshKeys} onInput={(e) => setInitField("sshKeys", e.currentTarget.value)} placeholder="ssh-ed25519 AAAA… one per line" />
          <label for="ci-script">Custom script</label>
          <textarea id="ci-script" value={init.script} onInput={(e) => setInitField("script", e.currentTarget.value)} placeholder="#cloud-config …" />
        </div>
      </fieldset>
      <CreateButtons busy={busy} onCancel={() => p.onClose(false)} />
    </form>
  );
}
