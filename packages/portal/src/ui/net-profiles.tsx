/**
 * A network's vNIC profiles, below the network list: add one (its name checked with the API's
 * rule before sending) and remove one after a confirmation. The engine's refusals (a profile a
 * VM NIC uses, a name taken, a network that is not a VM network) are shown in its words.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, items } from "../lib/api";
import { useLive, useRunner } from "../lib/hooks";
import { anyEvent } from "../lib/live";
import type { Network, VnicProfile } from "../lib/model";
import { confirm } from "./confirm";
import { Alert, type Column, Table, WidePanel } from "./widgets";

const PROFILE_NAME = /^[a-zA-Z0-9_.-]{1,50}$/;

/** What is wrong with a new profile's name (the API's rule), or undefined. */
export function checkProfileName(n: string): string | undefined {
  return PROFILE_NAME.test(n) ? undefined : "Profile name: 1 to 50 letters, digits, '.', '_' or '-'.";
}

export function NetworkProfiles(p: { network: Network; onClose: () => void; onChange: () => void }): JSX.Element {
  const { network } = p;
  const base = `/networks/${encodeURIComponent(network.id)}/vnicprofiles`;
  const view = useLive(async () => items<VnicProfile>(await api("GET", base), "vnic_profile"), anyEvent, [network.id]);
  const [name, setName] = useState("");
  const { busy, error, setError, run } = useRunner(() => {
    view.reload();
    p.onChange();
  });
  const add = (e: Event) => {
    e.preventDefault();
    const bad = checkProfileName(name);
    if (bad) return setError(bad);
    void run(async () => {
      await api("POST", base, { name });
      setName("");
    });
  };
  const columns: Column<VnicProfile>[] = [
    { label: "Name", cell: (x) => <span class="name">{x.name}</span> },
    {
      label: "Actions",
      cell: (x) => (
        <button
          type="button"
          class="danger"
          disabled={busy}
          aria-label={`Remove profile ${x.name}`}
          onClick={async () => {
            if (await confirm(`Remove vNIC profile ${x.name}?`, "VM NICs can no longer be connected through it.", "Remove")) {
              await run(() => api("DELETE", `/vnicprofiles/${encodeURIComponent(x.id)}`));
            }
          }}
        >
          Remove
        </button>
      ),
    },
  ];
  return (
    <WidePanel id="prof-title" title={<>vNIC profiles of {network.name}</>} closeLabel="Close profiles" onClose={p.onClose}>
      <Alert text={error ?? view.error} onClose={error ? () => setError(undefined) : undefined} />
      <form class="inline" onSubmit={add} noValidate>
        <label for="prof-name">New profile</label>
        <input id="prof-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="name" />
        <button type="submit" disabled={busy}>
          Add profile
        </button>
      </form>
      <Table caption={`vNIC profiles of ${network.name}`} columns={columns} rows={view.data} empty="No vNIC profiles." />
    </WidePanel>
  );
}
