/**
 * The VM portal: the signed-in user's own VMs as cards (the API's `Filter: true` view, so only
 * VMs the user has permissions on), with run, shutdown, power off, reboot and console. Laid out
 * for a phone as well as a desktop.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, items } from "../lib/api";
import { bytes, since } from "../lib/format";
import { useLive } from "../lib/hooks";
import { about } from "../lib/live";
import type { Vm } from "../lib/model";
import { SerialConsole } from "../ui/serial";
import { VmActions } from "../ui/vm-actions";
import { Alert, Page, Status } from "../ui/widgets";

export function VmPortal(): JSX.Element {
  const view = useLive(async () => items<Vm>(await api("GET", "/vms", undefined, { filter: true }), "vm"), about("vm"));
  const [error, setError] = useState<string>();
  const [serialOf, setSerialOf] = useState<string>();
  const vms = view.data;
  return (
    <Page title="My virtual machines">
      <Alert text={error} onClose={() => setError(undefined)} />
      <Alert text={view.error} />
      {serialOf && vms?.some((v) => v.id === serialOf) && <SerialConsole vm={vms.find((v) => v.id === serialOf) as Vm} filter onClose={() => setSerialOf(undefined)} />}
      {vms === undefined ? (
        <p class="muted">Loading…</p>
      ) : vms.length === 0 ? (
        <p class="muted">You have no virtual machines. Ask an administrator to give you one.</p>
      ) : (
        <ul class="cards">
          {vms.map((vm) => (
            <li class="card" key={vm.id} data-id={vm.id} aria-label={vm.name}>
              <div class="card-head">
                <span class="name">{vm.name}</span>
                <Status value={vm.status} />
              </div>
              <dl>
                <dt>Memory</dt>
                <dd>{bytes(vm.memory)}</dd>
                {vm.status === "up" && (
                  <>
                    <dt>Up for</dt>
                    <dd>{since(vm.start_time)}</dd>
                  </>
                )}
                {vm.description && (
                  <>
                    <dt>Description</dt>
                    <dd>{vm.description}</dd>
                  </>
                )}
              </dl>
              <VmActions vm={vm} filter onDone={view.reload} onError={setError} onSerial={() => setSerialOf(vm.id)} />
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
