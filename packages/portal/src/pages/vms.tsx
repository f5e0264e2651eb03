/**
 * Administration: every VM with its live status (reloaded when the event stream names a VM or host), host, memory and uptime,
 * the per-VM actions (snapshots in a panel above the list), and "New VM" from a template. The list
 * is virtualised (only the rows in view are in the page) and its first rows come from a small
 * first request (`max=`), so with 10,000 VMs the page paints before the whole list has arrived;
 * on a reload that request leaves with the portal's first ones (main.tsx), not after them.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, apiList, getOnce, items, type Json } from "../lib/api";
import { bytes, since } from "../lib/format";
import { useLive } from "../lib/hooks";
import { about } from "../lib/live";
import type { Host, Vm } from "../lib/model";
import { NewVm } from "./new-vm";
import { Charts } from "../ui/charts";
import { SerialConsole } from "../ui/serial";
import { VmSnapshots } from "../ui/snapshots";
import { VmActions } from "../ui/vm-actions";
import { VirtualTable } from "../ui/virtual-table";
import { Alert, type Column, Page, Status } from "../ui/widgets";

interface View {
  vms: Vm[];
  hosts: Map<string, string>;
}

const hostNames = (h: Json): Map<string, string> => new Map(items<Host>(h, "host").map((x) => [x.id, x.name]));

async function load(): Promise<View> {
  // read in pieces: the whole list's parse (tens of MB with 10,000 VMs) never holds the page
  const [vms, h] = await Promise.all([apiList<Vm>("/vms", "vm"), api("GET", "/hosts")]);
  return { vms, hosts: hostNames(h) };
}

/** The first screenful, asked for alone: it arrives long before a list of thousands. */
const FIRST_ROWS = 60;
/** What the first screenful needs; main.tsx prefetches it when the page opens on this list. */
export const FIRST_PATHS = [`/vms?max=${FIRST_ROWS}`, "/hosts"] as const;

export function Vms(): JSX.Element {
  const [firstVms, setFirstVms] = useState<Vm[]>();
  const [firstHosts, setFirstHosts] = useState<Map<string, string>>();
  // The whole list is asked for once the first screenful is on screen: its parse (tens of MB
  // with 10,000 VMs) holds the page's thread, and would otherwise delay that first paint.
  const [painted] = useState(() => {
    let done = () => {};
    const p = new Promise<void>((ok) => {
      done = ok;
    });
    return { p, done };
  });
  const view = useLive(async () => {
    await painted.p;
    return load();
  }, about("vm", "host"));
  useEffect(() => {
    let live = true;
    const [v, h] = FIRST_PATHS.map((p) => getOnce(p));
    // the rows are drawn when they come, the host names when theirs do
    v?.then(
      (d) => live && setFirstVms(items<Vm>(d, "vm")),
      () => painted.done(), // the whole list's own request reports the error
    );
    h?.then(
      (d) => live && setFirstHosts(hostNames(d)),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [painted]);
  useEffect(() => {
    // effects run after the browser painted; one more frame to be sure the rows are on screen
    if (firstVms) requestAnimationFrame(() => painted.done());
  }, [firstVms, painted]);
  const first: View | undefined = firstVms && { vms: firstVms, hosts: firstHosts ?? new Map<string, string>() };
  const shown = view.data ?? first;
  const [error, setError] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [snapsOf, setSnapsOf] = useState<string>();
  const [serialOf, setSerialOf] = useState<string>();
  const [chartsOf, setChartsOf] = useState<Vm>();
  const columns: Column<Vm>[] = [
    { label: "Name", cell: (v) => <span class="name">{v.name}</span> },
    { label: "Status", cell: (v) => <Status value={v.status} /> },
    { label: "Host", cell: (v) => (v.host ? (shown?.hosts.get(v.host.id) ?? "") : "") },
    { label: "Memory", num: true, cell: (v) => bytes(v.memory) },
    { label: "Uptime", num: true, cell: (v) => (v.status === "up" ? since(v.start_time) : "") },
    { label: "Actions", cell: (v) => <VmActions vm={v} onDone={view.reload} onError={setError} onSnapshots={() => setSnapsOf(v.id)} onSerial={() => setSerialOf(v.id)} onCharts={() => setChartsOf(v)} /> },
  ];
  return (
    <Page
      title="Virtual machines"
      actions={
        <button type="button" class="primary" onClick={() => setCreating(true)} disabled={creating}>
          New VM
        </button>
      }
    >
      {creating && (
        <NewVm
          onClose={(made) => {
            setCreating(false);
            if (made) view.reload();
          }}
        />
      )}
      <Alert text={error} onClose={() => setError(undefined)} />
      <Alert text={view.error} />
      {chartsOf && <Charts kind="vms" id={chartsOf.id} name={chartsOf.name} onClose={() => setChartsOf(undefined)} />}
      {serialOf && view.data?.vms.some((v) => v.id === serialOf) && (
        <SerialConsole vm={view.data.vms.find((v) => v.id === serialOf) as Vm} onClose={() => setSerialOf(undefined)} />
      )}
      {snapsOf && view.data?.vms.some((v) => v.id === snapsOf) && (
        <VmSnapshots vm={view.data.vms.find((v) => v.id === snapsOf) as Vm} onClose={() => setSnapsOf(undefined)} />
      )}
      {!view.data && first && first.vms.length >= FIRST_ROWS && (
        <p class="muted" role="status">
          Loading the rest of the list…
        </p>
      )}
      <VirtualTable caption="Virtual machines" columns={columns} rows={shown?.vms} empty="No virtual machines yet: create one with New VM." />
    </Page>
  );
}
