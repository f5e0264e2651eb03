/**
 * The clusters of a network's data center, below the network list: which carry the network (and
 * whether their hosts must have it); attach it to one, or detach it after a confirmation. The
 * engine's refusals (the management network, a network NICs of the cluster's VMs use) are shown
 * in its words.
 */
import type { JSX } from "preact";
import { api, items } from "../lib/api";
import { useLive, useRunner } from "../lib/hooks";
import { anyEvent } from "../lib/live";
import type { Named, Network, Ref } from "../lib/model";
import { confirm } from "./confirm";
import { Alert, type Column, Table, WidePanel } from "./widgets";

interface ClusterRow extends Named {
  attached: boolean;
  required: boolean;
}

/** The clusters of the network's data center, each with the network's attachment there. */
async function load(network: Network): Promise<ClusterRow[]> {
  const all = items<Named & { data_center?: Ref }>(await api("GET", "/clusters"), "cluster").filter((c) => c.data_center?.id === network.data_center?.id);
  return Promise.all(
    all.map(async (c) => {
      const nets = items<{ id: string; required?: string | boolean }>(await api("GET", `/clusters/${encodeURIComponent(c.id)}/networks`), "network");
      const here = nets.find((n) => n.id === network.id);
      return { id: c.id, name: c.name, attached: here !== undefined, required: String(here?.required) === "true" };
    }),
  );
}

export function NetworkClusters(p: { network: Network; onClose: () => void }): JSX.Element {
  const { network } = p;
  const view = useLive(() => load(network), anyEvent, [network.id]);
  const { busy, error, run } = useRunner(view.reload);
  const base = (c: ClusterRow) => `/clusters/${encodeURIComponent(c.id)}/networks`;
  const detach = async (c: ClusterRow) => {
    if (!(await confirm(`Detach ${network.name} from ${c.name}?`, "The cluster's hosts no longer need it and its VMs can no longer be connected to it.", "Detach"))) return;
    await run(() => api("DELETE", `${base(c)}/${encodeURIComponent(network.id)}`));
  };
  const columns: Column<ClusterRow>[] = [
    { label: "Cluster", cell: (c) => <span class="name">{c.name}</span> },
    { label: "Attached", cell: (c) => (c.attached ? (c.required ? "yes, required" : "yes") : "no") },
    {
      label: "Actions",
      cell: (c) =>
        c.attached ? (
          <button type="button" class="danger" disabled={busy} aria-label={`Detach ${network.name} from ${c.name}`} onClick={() => detach(c)}>
            Detach
          </button>
        ) : (
          <button type="button" disabled={busy} aria-label={`Attach ${network.name} to ${c.name}`} onClick={() => run(() => api("POST", base(c), { id: network.id, required: false }))}>
            Attach
          </button>
        ),
    },
  ];
  return (
    <WidePanel id="netcl-title" title={<>Clusters of {network.name}</>} closeLabel="Close clusters" onClose={p.onClose}>
      <Alert text={error ?? view.error} />
      <Table caption={`Clusters of ${network.name}`} columns={columns} rows={view.data} empty="The network's data center has no clusters." />
    </WidePanel>
  );
}
