/**
 * The buttons of one VM, shared by the administration portal and the VM portal: Run (Resume when
 * suspended), Shutdown, Power off, Reboot, Suspend, Console, and Serial console and Snapshots
 * where the page shows them.
 * A button is offered only for an action the engine serves and in states where it would accept
 * it (no Migrate: the engine has no live migration yet); destructive ones ask first. Faults go
 * to `onError` with the API's reason and detail.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, message } from "../lib/api";
import { openConsole } from "../lib/console";
import type { Vm } from "../lib/model";
import { confirm } from "./confirm";

const STARTABLE = new Set(["down", "suspended"]);
const RUNNING = new Set(["up", "powering_up", "paused", "reboot_in_progress", "migrating", "wait_for_launch", "powering_down"]);

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
