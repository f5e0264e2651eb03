/**
 * The buttons of one VM, shared by the administration portal and the VM portal: Run (Resume when
 * suspended), Shutdown, Power off, Reboot, Suspend, Migrate (to a host picked from the VM's
 * cluster; says so when there is no other host), Console, and Serial console and Snapshots where
 * the page shows them.
 * A button is offered only in states where the engine would accept it; destructive ones ask
 * first. Faults go to `onError` with the API's reason and detail.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, items, message } from "../lib/api";
import { openConsole } from "../lib/console";
import type { Host, Vm } from "../lib/model";
import { choose, confirm } from "./confirm";

const STARTABLE = new Set(["down", "suspended"]);
const RUNNING = new Set(["up", "powering_up", "paused", "reboot_in_progress", "migrating", "wait_for_launch", "powering_down"]);

/** The hosts the VM could move to: up, in its cluster, not where it runs; or why there are none. */
async function migrationTargets(vm: Vm): Promise<{ hosts: Host[]; why?: string }> {
  const all = items<Host>(await api("GET", "/hosts"), "host").filter((h) => !vm.cluster || h.cluster?.id === vm.cluster.id);
  const here = all.find((h) => h.id === vm.host?.id);
  const hosts = all.filter((h) => h.id !== vm.host?.id && h.status === "up");
  if (hosts.length) return { hosts };
  if (all.length <= 1) return { hosts, why: `${here?.name ?? "Its host"} is the only host in the cluster: there is no other host to migrate ${vm.name} to.` };
  return { hosts, why: `No other host in the cluster of ${vm.name} is up.` };
}

export function VmActions(p: { vm: Vm; filter?: boolean; onDone: () => void; onError: (text: string) => void; onSnapshots?: () => void; onSerial?: () => void; onCharts?: () => void }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const { vm } = p;
  const opts = { filter: p.filter };
  const act = async (action: string, ask?: [string, string]) => {
    if (ask && !(await confirm(`${ask[0]} ${vm.name}?`, ask[1], ask[0]))) return;
    setBusy(true);
    try {
      await api("POST", `/vms/${encodeURIComponent(vm.id)}/${action}`, {}, opts);
      p.onDone();
    } catch (err) {
      p.onError(`${vm.name}: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };
  const migrate = async () => {
    try {
      const t = await migrationTargets(vm);
      if (t.why) return p.onError(`Cannot migrate ${vm.name}: ${t.why}`);
      const host = await choose(`Migrate ${vm.name}`, "The VM keeps running while it moves to the host you pick.", "Migrate", "To host", t.hosts.map((h) => ({ value: h.id, label: h.name })));
      if (!host) return;
      setBusy(true);
      await api("POST", `/vms/${encodeURIComponent(vm.id)}/migrate`, { host: { id: host } }, opts);
      p.onDone();
    } catch (err) {
      p.onError(`${vm.name}: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };
  const showConsole = () => openConsole(vm.id, opts).catch((err: unknown) => p.onError(`${vm.name}: ${message(err)}`));
  const running = RUNNING.has(vm.status);
  const label = (what: string) => `${what} ${vm.name}`;
  return (
    <div class="actions">
      {STARTABLE.has(vm.status) && (
        <button type="button" disabled={busy} onClick={() => act("start")} aria-label={label(vm.status === "suspended" ? "Resume" : "Run")}>
          {vm.status === "suspended" ? "Resume" : "Run"}
        </button>
      )}
      {running && (
        <>
          <button type="button" disabled={busy} onClick={() => act("shutdown", ["Shut down", "The guest operating system is asked to shut down."])} aria-label={label("Shut down")}>
            Shutdown
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() => act("stop", ["Power off", "The VM is stopped at once, as when pulling the plug: unsaved data in the guest is lost."])}
            aria-label={label("Power off")}
          >
            Power off
          </button>
          <button type="button" disabled={busy} onClick={() => act("reboot", ["Reboot", "The guest is asked to reboot."])} aria-label={label("Reboot")}>
            Reboot
          </button>
          {vm.status === "up" && (
            <button type="button" disabled={busy} onClick={() => act("suspend", ["Suspend", "The VM's memory is saved to storage and the VM stops until it is resumed."])} aria-label={label("Suspend")}>
              Suspend
            </button>
          )}
          {vm.status === "up" && !p.filter && (
            <button type="button" disabled={busy} onClick={migrate} aria-label={label("Migrate")}>
              Migrate
            </button>
          )}
          <button type="button" disabled={busy} onClick={showConsole} aria-label={label("Console of")}>
            Console
          </button>
          {p.onSerial && (
            <button type="button" onClick={p.onSerial} aria-label={label("Serial terminal of")}>
              Serial
            </button>
          )}
        </>
      )}
      {p.onCharts && (
        <button type="button" onClick={p.onCharts} aria-label={label("Charts of")}>
          Charts
        </button>
      )}
      {p.onSnapshots && (
        <button type="button" onClick={p.onSnapshots} aria-label={label("Snapshots of")}>
          Snapshots
        </button>
      )}
    </div>
  );
}
