/**
 * Administration pages for the infrastructure: hosts (maintenance, activate, approve), storage
 * domains with their usage, disks (moved to another domain with a live progress bar), and
 * networks (made with the New network wizard, removed after a confirmation, their vNIC profiles
 * listed, added and removed, attached to and detached from clusters). Each is a live table over one API collection.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, items, message } from "../lib/api";
import { bytes } from "../lib/format";
import { useLive } from "../lib/hooks";
import { about, anyEvent, eventOrJob, subscribe } from "../lib/live";
import { attachedData, type Disk, type Host, type Network, type StorageDomain, type VnicProfile } from "../lib/model";
import { Charts } from "../ui/charts";
import { choose, confirm } from "../ui/confirm";
import { NetworkClusters } from "../ui/net-clusters";
import { NetworkProfiles } from "../ui/net-profiles";
import { NewNetwork } from "../ui/new-network";
import { NewStorageDomain } from "../ui/new-sd";
import { Alert, type Column, Page, Status, Table, Usage } from "../ui/widgets";

function HostActions(p: { host: Host; onDone: () => void; onError: (t: string) => void }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const { host } = p;
  /** `ask`: [button label, what happens] for a confirmation first. */
  const act = async (action: string, ask?: [string, string]) => {
    if (ask && !(await confirm(`${ask[0]} for ${host.name}?`, ask[1], ask[0]))) return;
    setBusy(true);
    try {
      await api("POST", `/hosts/${encodeURIComponent(host.id)}/${action}`, {});
      p.onDone();
    } catch (err) {
      p.onError(`${host.name}: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="actions">
      {host.status === "pending_approval" && (
        <button type="button" disabled={busy} onClick={() => act("approve")}>
          Approve
        </button>
      )}
      {(host.status === "maintenance" || host.status === "non_operational") && (
        <button type="button" disabled={busy} onClick={() => act("activate")}>
          Activate
        </button>
      )}
      {(host.status === "up" || host.status === "non_operational") && (
        <button type="button" class="danger" disabled={busy} onClick={() => act("deactivate", ["Maintenance", "The host stops taking VMs; it must have none running."])}>
          Maintenance
        </button>
      )}
      {host.status === "up" && host.spm?.status !== "spm" && (
        <button
          type="button"
          disabled={busy}
          onClick={() => act("forceselectspm", ["Select as SPM", "This host becomes its data center's SPM once the current one hands the role over."])}
        >
          Select as SPM
        </button>
      )}
    </div>
  );
}

export function Hosts(): JSX.Element {
  const view = useLive(async () => items<Host>(await api("GET", "/hosts"), "host"), about("host", "data_center"));
  const [error, setError] = useState<string>();
  const [chartsOf, setChartsOf] = useState<Host>();
  const columns: Column<Host>[] = [
    { label: "Name", cell: (h) => <span class="name">{h.name}</span> },
    { label: "Status", cell: (h) => <Status value={h.status} /> },
    { label: "Address", cell: (h) => h.address ?? "" },
    { label: "SPM", cell: (h) => (h.spm?.status && h.spm.status !== "none" ? <Status value={h.spm.status} /> : "") },
    { label: "CPU", cell: (h) => h.cpu?.name ?? "" },
    { label: "Memory", num: true, cell: (h) => bytes(h.memory) },
    {
      label: "Actions",
      cell: (h) => (
        <div class="actions">
          <HostActions host={h} onDone={view.reload} onError={setError} />
          <button type="button" onClick={() => setChartsOf(h)} aria-label={`Charts of ${h.name}`}>
            Charts
          </button>
        </div>
      ),
    },
  ];
  return (
    <Page title="Hosts">
      <Alert text={error} onClose={() => setError(undefined)} />
      <Alert text={view.error} />
      {chartsOf && <Charts kind="hosts" id={chartsOf.id} name={chartsOf.name} onClose={() => setChartsOf(undefined)} />}
      <Table caption="Hosts" columns={columns} rows={view.data} empty="No hosts: start a vela-node with this engine's URL and registration token." />
    </Page>
  );
}

/**
 * Thin over-commit: what the domain's disks may grow to (committed) against its size, as oVirt's
 * "over allocation ratio" (1.50× = disks could need half as much again as there is).
 */
export function overCommit(d: StorageDomain): string {
  const size = Number(d.used ?? 0) + Number(d.available ?? 0);
  const committed = Number(d.committed ?? 0);
  if (!(size > 0) || !Number.isFinite(committed)) return "";
  return `${(committed / size).toFixed(2)}×`;
}

export function StorageDomains(): JSX.Element {
  const view = useLive(async () => items<StorageDomain>(await api("GET", "/storagedomains"), "storage_domain"), eventOrJob);
  const [creating, setCreating] = useState(false);
  const total = (d: StorageDomain) => String(Number(d.used ?? 0) + Number(d.available ?? 0));
  const columns: Column<StorageDomain>[] = [
    { label: "Name", cell: (d) => <span class="name">{d.name}</span> },
    { label: "Status", cell: (d) => <Status value={d.external_status && d.external_status !== "ok" ? d.external_status : (d.status ?? "attached")} /> },
    { label: "Type", cell: (d) => `${d.type ?? ""}${d.master === "true" ? " (master)" : ""}` },
    { label: "Storage", cell: (d) => [d.storage?.type, d.storage?.path ?? d.storage?.address].filter(Boolean).join(": ") },
    { label: "Used", num: true, cell: (d) => bytes(d.used) },
    { label: "Free", num: true, cell: (d) => bytes(d.available) },
    { label: "Usage", cell: (d) => <Usage used={d.used} total={total(d)} /> },
    { label: "Allocated", num: true, cell: (d) => bytes(d.committed) },
    { label: "Over-commit", num: true, cell: (d) => overCommit(d) },
  ];
  return (
    <Page
      title="Storage domains"
      actions={
        <button type="button" class="primary" onClick={() => setCreating(true)} disabled={creating}>
          New storage domain
        </button>
      }
    >
      {creating && (
        <NewStorageDomain
          onClose={(made) => {
            setCreating(false);
            if (made) view.reload();
          }}
        />
      )}
      <Alert text={view.error} />
      <Table caption="Storage domains" columns={columns} rows={view.data} empty="No storage domains." />
    </Page>
  );
}

/** A move the user started from this page: its job, and the progress the event stream reported. */
interface Moving {
  job: string;
  to: string;
  progress: number;
  status: string;
}

export function Disks(): JSX.Element {
  const view = useLive(async () => {
    const [d, s] = await Promise.all([api("GET", "/disks"), api("GET", "/storagedomains")]);
    const sds = items<StorageDomain>(s, "storage_domain");
    return { disks: items<Disk>(d, "disk"), sds: new Map(sds.map((x) => [x.id, x.name])), data: sds.filter(attachedData) };
  }, eventOrJob);
  const [moving, setMoving] = useState<Record<string, Moving>>({});
  const [error, setError] = useState<string>();
  // Progress comes from the event stream's job messages, not from polling the job.
  useEffect(
    () =>
      subscribe((m) => {
        if (m.type !== "job") return;
        setMoving((all) => {
          const hit = Object.entries(all).find(([, mv]) => mv.job === m.id);
          if (!hit) return all;
          const [disk, mv] = hit;
          const progress = m.status === "finished" ? 100 : (m.progress ?? mv.progress);
          return { ...all, [disk]: { ...mv, progress: Math.max(mv.progress, progress), status: m.status ?? mv.status } };
        });
      }),
    [],
  );
  const name = (d: Disk) => d.alias ?? d.name ?? d.id;
  const move = async (d: Disk) => {
    const here = new Set(d.storage_domains?.storage_domain?.map((r) => r.id));
    const targets = (view.data?.data ?? []).filter((x) => !here.has(x.id));
    if (!targets.length) return setError(`Cannot move ${name(d)}: there is no other active data domain to move it to.`);
    const to = await choose(`Move ${name(d)}`, "The disk's volumes are copied to the domain you pick, then removed from where they are.", "Move", "To storage domain", targets.map((x) => ({ value: x.id, label: x.name })));
    if (!to) return;
    try {
      const r = await api<{ job?: { id?: string } }>("POST", `/disks/${encodeURIComponent(d.id)}/move`, { storage_domain: { id: to } });
      const job = r.job?.id;
      if (job) {
        setMoving((all) => ({ ...all, [d.id]: { job, to: view.data?.sds.get(to) ?? to, progress: 0, status: "started" } }));
        // messages sent before the answer arrived were not matched: the job's state now catches up
        const now = await api<{ status?: string }>("GET", `/jobs/${encodeURIComponent(job)}`);
        if (now.status && now.status !== "started") {
          const st = now.status;
          setMoving((all) => (all[d.id] ? { ...all, [d.id]: { ...(all[d.id] as Moving), status: st, progress: st === "finished" ? 100 : (all[d.id] as Moving).progress } } : all));
        }
      }
      view.reload();
    } catch (err) {
      setError(`${name(d)}: ${message(err)}`);
    }
  };
  const columns: Column<Disk>[] = [
    { label: "Alias", cell: (d) => <span class="name">{name(d)}</span> },
    { label: "Status", cell: (d) => <Status value={d.status} /> },
    { label: "Virtual size", num: true, cell: (d) => bytes(d.provisioned_size) },
    { label: "Actual size", num: true, cell: (d) => bytes(d.actual_size) },
    { label: "Format", cell: (d) => `${d.format ?? ""}${d.sparse === "true" ? ", thin" : ""}` },
    { label: "Storage domain", cell: (d) => d.storage_domains?.storage_domain?.map((r) => view.data?.sds.get(r.id) ?? r.id).join(", ") ?? "" },
    {
      label: "Move",
      cell: (d) => {
        const mv = moving[d.id];
        if (mv) {
          return (
            <span class="usage">
              <progress max={100} value={mv.progress} aria-label={`Moving ${name(d)} to ${mv.to}`} /> {mv.status === "failed" ? "failed" : `${mv.progress} %`}
            </span>
          );
        }
        return (
          <button type="button" disabled={d.status !== "ok"} onClick={() => move(d)} aria-label={`Move ${name(d)}`}>
            Move
          </button>
        );
      },
    },
  ];
  return (
    <Page title="Disks">
      <Alert text={error} onClose={() => setError(undefined)} />
      <Alert text={view.error} />
      <Table caption="Disks" columns={columns} rows={view.data?.disks} empty="No disks." />
    </Page>
  );
}

export function Networks(): JSX.Element {
  const view = useLive(async () => {
    const [n, d, pr] = await Promise.all([api("GET", "/networks"), api("GET", "/datacenters"), api("GET", "/vnicprofiles")]);
    const profiles = new Map<string, string[]>();
    for (const x of items<VnicProfile>(pr, "vnic_profile")) if (x.network) profiles.set(x.network.id, [...(profiles.get(x.network.id) ?? []), x.name]);
    return { nets: items<Network>(n, "network"), dcs: new Map(items<{ id: string; name: string }>(d, "data_center").map((x) => [x.id, x.name])), profiles };
  }, anyEvent);
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string>();
  const [profilesOf, setProfilesOf] = useState<Network>();
  const [clustersOf, setClustersOf] = useState<Network>();
  const remove = async (n: Network) => {
    if (!(await confirm(`Remove network ${n.name}?`, "The network, its vNIC profiles and its cluster attachments are removed. VM NICs and hosts must not use it.", "Remove"))) return;
    try {
      await api("DELETE", `/networks/${encodeURIComponent(n.id)}`);
      view.reload();
    } catch (err) {
      setError(`${n.name}: ${message(err)}`);
    }
  };
  const columns: Column<Network>[] = [
    { label: "Name", cell: (n) => <span class="name">{n.name}</span> },
    { label: "Data center", cell: (n) => (n.data_center ? (view.data?.dcs.get(n.data_center.id) ?? "") : "") },
    { label: "VLAN", num: true, cell: (n) => n.vlan?.id ?? "" },
    { label: "MTU", num: true, cell: (n) => (n.mtu && n.mtu !== "0" ? n.mtu : "default") },
    { label: "Role", cell: (n) => n.usages?.usage?.join(", ") ?? "" },
    { label: "vNIC profiles", cell: (n) => <span class="profiles">{(view.data?.profiles.get(n.id) ?? []).join(", ")}</span> },
    { label: "Description", cell: (n) => n.description ?? "" },
    {
      label: "Actions",
      cell: (n) => (
        <div class="actions">
          <button type="button" onClick={() => setProfilesOf(n)} aria-label={`Profiles of ${n.name}`}>
            Profiles
          </button>
          <button type="button" onClick={() => setClustersOf(n)} aria-label={`Clusters of ${n.name}`}>
            Clusters
          </button>
          <button type="button" class="danger" onClick={() => remove(n)} aria-label={`Remove ${n.name}`}>
            Remove
          </button>
        </div>
      ),
    },
  ];
  return (
    <Page
      title="Networks"
      actions={
        <button type="button" class="primary" onClick={() => setCreating(true)} disabled={creating}>
          New network
        </button>
      }
    >
      {creating && (
        <NewNetwork
          onClose={(made) => {
            setCreating(false);
            if (made) view.reload();
          }}
        />
      )}
      <Alert text={error} onClose={() => setError(undefined)} />
      <Alert text={view.error} />
      {clustersOf && <NetworkClusters network={clustersOf} onClose={() => setClustersOf(undefined)} key={clustersOf.id} />}
      {profilesOf && <NetworkProfiles network={profilesOf} onClose={() => setProfilesOf(undefined)} onChange={view.reload} key={profilesOf.id} />}
      <Table caption="Networks" columns={columns} rows={view.data?.nets} empty="No networks." />
    </Page>
  );
}
