/**
 * The "New network" wizard: a logical network's name (it names the bridge on hosts), data center,
 * VLAN id, MTU, whether VMs use it, a description, the clusters it is attached to (and whether
 * their hosts must carry it), and its vNIC profile. Checked in the page with the API's own rules
 * (input/network.ts on the engine) before anything is sent; the engine's faults are shown in its
 * words. The engine makes a profile named after a VM network; a different profile name is added
 * as a second profile.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, items, message } from "../lib/api";
import { usePoll } from "../lib/hooks";
import type { Named, Ref } from "../lib/model";
import { Alert, CreateButtons } from "./widgets";

/** The engine's network name (a bridge name on hosts, so at most 15 characters). */
const NET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,14}$/;
const PROFILE_NAME = /^[a-zA-Z0-9_.-]{1,50}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the engine refuses control characters but tab and newline
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

export interface NetworkForm {
  name: string;
  dc: string;
  vlan: string;
  mtu: string;
  vm: boolean;
  description: string;
  profile: string;
}

const int = (s: string): number | undefined => (/^[0-9]{1,5}$/.test(s.trim()) ? Number(s.trim()) : undefined);

/** What is wrong with the wizard's fields (the API's rules), or undefined. */
export function checkNetworkForm(f: NetworkForm): string | undefined {
  if (!NET_NAME.test(f.name)) return "Name: 1 to 15 letters, digits, '_' or '-', starting with a letter or digit (it names the bridge on hosts).";
  if (!f.dc) return "Pick the data center the network belongs to.";
  if (f.vlan.trim() !== "") {
    const v = int(f.vlan);
    if (v === undefined || v > 4094) return "VLAN id: a whole number from 0 to 4094, or empty for no VLAN.";
  }
  if (f.mtu.trim() !== "") {
    const m = int(f.mtu);
    if (m === undefined || (m !== 0 && (m < 68 || m > 9000))) return "MTU: 68 to 9000, or empty (or 0) for the default.";
  }
  if (f.description.length > 4000) return "Description: at most 4000 characters.";
  if (CONTROL.test(f.description)) return "Description: no control characters.";
  if (f.profile !== "" && !f.vm) return "vNIC profile: only a VM network has profiles.";
  if (f.profile !== "" && !PROFILE_NAME.test(f.profile)) return "vNIC profile: 1 to 50 letters, digits, '.', '_' or '-'.";
  return undefined;
}

interface Cluster extends Named {
  data_center?: Ref;
}

async function loadChoices(): Promise<{ dcs: Named[]; clusters: Cluster[] }> {
  const [d, c] = await Promise.all([api("GET", "/datacenters"), api("GET", "/clusters")]);
  return { dcs: items<Named>(d, "data_center"), clusters: items<Cluster>(c, "cluster") };
}

export function NewNetwork(p: { onClose: (made: boolean) => void }): JSX.Element {
  const opts = usePoll(loadChoices, 60_000);
  const [name, setName] = useState("");
  const [dc, setDc] = useState("");
  const [vlan, setVlan] = useState("");
  const [mtu, setMtu] = useState("");
  const [vm, setVm] = useState(true);
  const [description, setDescription] = useState("");
  const [attach, setAttach] = useState<string[]>([]);
  const [required, setRequired] = useState(true);
  const [profile, setProfile] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const dcId = dc || opts.data?.dcs[0]?.id || "";
  const clusters = (opts.data?.clusters ?? []).filter((c) => c.data_center?.id === dcId);
  const submit = async (e: Event) => {
    e.preventDefault();
    const bad = checkNetworkForm({ name, dc: dcId, vlan, mtu, vm, description, profile });
    if (bad) return setError(bad);
    setBusy(true);
    setError(undefined);
    try {
      const body: Record<string, unknown> = { name, data_center: { id: dcId }, usages: { usage: vm ? ["vm"] : [] } };
      if (vlan.trim() !== "") body.vlan = { id: Number(vlan) };
      if (mtu.trim() !== "") body.mtu = Number(mtu);
      if (description) body.description = description;
      const net = await api<{ id: string }>("POST", "/networks", body);
      // the network exists now: what fails after this says so, and the network stays for the user to fix or remove
      const then = async (what: string, call: () => Promise<unknown>) => {
        try {
          await call();
        } catch (err) {
          throw new Error(`Network ${name} was created, but ${what} failed: ${message(err)}`);
        }
      };
      if (vm && profile && profile !== name) await then(`adding vNIC profile ${profile}`, () => api("POST", `/networks/${encodeURIComponent(net.id)}/vnicprofiles`, { name: profile }));
      for (const c of clusters.filter((x) => attach.includes(x.id))) {
        await then(`attaching it to cluster ${c.name}`, () => api("POST", `/clusters/${encodeURIComponent(c.id)}/networks`, { id: net.id, required }));
      }
      p.onClose(true);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="newnet-title" noValidate>
      <h2 id="newnet-title">New network</h2>
      <Alert text={error ?? opts.error} />
      <div class="grid">
        <label for="net-name">Name</label>
        <input id="net-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="net-dc">Data center</label>
        <select
          id="net-dc"
          value={dcId}
          onChange={(e) => {
            setDc(e.currentTarget.value);
            setAttach([]);
          }}
        >
          {opts.data?.dcs.map((d) => (
            <option value={d.id} key={d.id}>
              {d.name}
            </option>
          ))}
        </select>
        <label for="net-vlan">VLAN id</label>
        <input id="net-vlan" inputMode="numeric" value={vlan} onInput={(e) => setVlan(e.currentTarget.value)} placeholder="none" />
        <label for="net-mtu">MTU</label>
        <input id="net-mtu" inputMode="numeric" value={mtu} onInput={(e) => setMtu(e.currentTarget.value)} placeholder="default" />
        <span />
        <label class="check">
          <input type="checkbox" checked={vm} onChange={(e) => setVm(e.currentTarget.checked)} /> VM network (VMs' NICs connect to it)
        </label>
        <label for="net-desc">Description</label>
        <input id="net-desc" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        <label for="net-profile">vNIC profile</label>
        <input id="net-profile" value={profile} disabled={!vm} onInput={(e) => setProfile(e.currentTarget.value)} placeholder={vm ? name || "named after the network" : "none (not a VM network)"} />
      </div>
      <fieldset>
        <legend>Clusters</legend>
        {clusters.length === 0 && <p class="muted">The data center has no clusters.</p>}
        {clusters.map((c) => (
          <div class="row" key={c.id}>
            <label class="check">
              <input type="checkbox" checked={attach.includes(c.id)} onChange={(e) => setAttach(e.currentTarget.checked ? [...attach, c.id] : attach.filter((x) => x !== c.id))} /> Attach to {c.name}
            </label>
          </div>
        ))}
        <div class="row">
          <label class="check">
            <input type="checkbox" checked={required} onChange={(e) => setRequired(e.currentTarget.checked)} /> Required (a host of the cluster without it is not operational)
          </label>
        </div>
      </fieldset>
      <CreateButtons busy={busy} onCancel={() => p.onClose(false)} />
    </form>
  );
}
