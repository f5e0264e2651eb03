/**
 * Administration overview: the tree of data centers → clusters → hosts and VMs (with their
 * statuses and each data center's SPM), and the templates new VMs are made from.
 */
import type { JSX } from "preact";
import { api, items } from "../lib/api";
import { bytes } from "../lib/format";
import { useLive } from "../lib/hooks";
import { anyEvent, eventOrJob } from "../lib/live";
import type { Host, Named, Ref, Vm } from "../lib/model";
import { Alert, type Column, Page, Status, Table } from "../ui/widgets";

interface DataCenter extends Named {
  status?: string;
  local?: string;
  storage_format?: string;
  spm?: { host?: Ref };
}

interface Cluster extends Named {
  data_center?: Ref;
}

interface Tree {
  dcs: DataCenter[];
  clusters: Cluster[];
  hosts: Host[];
  vms: Vm[];
}

async function loadTree(): Promise<Tree> {
  const [d, c, h, v] = await Promise.all(["/datacenters", "/clusters", "/hosts", "/vms"].map((p) => api("GET", p)));
  return {
    dcs: items<DataCenter>(d, "data_center"),
    clusters: items<Cluster>(c, "cluster"),
    hosts: items<Host>(h, "host"),
    vms: items<Vm>(v, "vm"),
  };
}

/** "1 host", "2 hosts". */
function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

function ClusterNode(p: { cluster: Cluster; tree: Tree }): JSX.Element {
  const hosts = p.tree.hosts.filter((h) => h.cluster?.id === p.cluster.id);
  const vms = p.tree.vms.filter((v) => v.cluster?.id === p.cluster.id);
  const up = vms.filter((v) => v.status === "up").length;
  return (
    <li>
      <span class="name">{p.cluster.name}</span> <span class="muted">cluster — {count(hosts.length, "host")}, {count(vms.length, "VM")} ({up} up)</span>
      {hosts.length > 0 && (
        <ul>
          {hosts.map((h) => (
            <li key={h.id}>
              {h.name} <Status value={h.status} />
              {h.spm?.status === "spm" && <span class="badge badge-good">SPM</span>}
              <span class="muted"> {count(p.tree.vms.filter((v) => v.host?.id === h.id).length, "VM")} running</span>
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

export function Overview(): JSX.Element {
  const view = useLive(loadTree, anyEvent);
  const tree = view.data;
  return (
    <Page title="Data centers">
      <Alert text={view.error} />
      {!tree ? (
        <p class="muted">Loading…</p>
      ) : (
        <ul class="tree">
          {tree.dcs.map((dc) => {
            const spm = tree.hosts.find((h) => h.id === dc.spm?.host?.id);
            return (
              <li key={dc.id} data-id={dc.id}>
                <span class="name">{dc.name}</span> <Status value={dc.status} />{" "}
                <span class="muted">
                  {dc.local === "true" ? "local" : "shared"} storage{dc.storage_format ? `, ${dc.storage_format}` : ""}; SPM: {spm ? spm.name : "none"}
                </span>
                <ul>
                  {tree.clusters
                    .filter((c) => c.data_center?.id === dc.id)
                    .map((c) => (
                      <ClusterNode cluster={c} tree={tree} key={c.id} />
                    ))}
                </ul>
              </li>
            );
          })}
        </ul>
      )}
    </Page>
  );
}

interface Template extends Named {
  status?: string;
  memory?: string;
}

export function Templates(): JSX.Element {
  const view = useLive(async () => items<Template>(await api("GET", "/templates"), "template"), eventOrJob);
  const columns: Column<Template>[] = [
    { label: "Name", cell: (t) => <span class="name">{t.name}</span> },
    { label: "Status", cell: (t) => <Status value={t.status} /> },
    { label: "Memory", num: true, cell: (t) => bytes(t.memory) },
    { label: "Description", cell: (t) => t.description ?? "" },
  ];
  return (
    <Page title="Templates">
      <Alert text={view.error} />
      <Table caption="Templates" columns={columns} rows={view.data} empty="No templates." />
    </Page>
  );
}
