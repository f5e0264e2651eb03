/**
 * The "New VM" form: name, cluster, template (its disks are copied into the new VM), memory and an
 * optional start once created. Checked in the browser before sending (name pattern, memory range);
 * the engine's fault is shown as it says it, and the form keeps what was typed.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, items, message } from "../lib/api";
import { usePoll } from "../lib/hooks";
import type { Named } from "../lib/model";
import { Alert } from "../ui/widgets";

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MiB = 1024 * 1024;

async function choices(): Promise<{ clusters: Named[]; templates: Named[] }> {
  const [c, t] = await Promise.all([api("GET", "/clusters"), api("GET", "/templates")]);
  return { clusters: items<Named>(c, "cluster"), templates: items<Named>(t, "template") };
}

/** What is wrong with the form, or undefined. */
export function checkVmForm(name: string, memoryMiB: string): string | undefined {
  if (!NAME.test(name)) return "Name: 1 to 64 letters, digits, '.', '_' or '-'.";
  if (memoryMiB !== "") {
    const m = Number(memoryMiB);
    if (!Number.isInteger(m) || m < 16 || m > 4 * 1024 * 1024) return "Memory: a whole number of MiB from 16 to 4194304.";
  }
  return undefined;
}

export function NewVm(p: { onClose: (made: boolean) => void }): JSX.Element {
  const opts = usePoll(choices, 60_000);
  const [name, setName] = useState("");
  const [cluster, setCluster] = useState("");
  const [template, setTemplate] = useState("");
  const [memory, setMemory] = useState("");
  const [start, setStart] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const clusters = opts.data?.clusters ?? [];
  const templates = opts.data?.templates ?? [];
  const clusterId = cluster || clusters[0]?.id || "";
  const templateId = template || templates.find((t) => t.name !== "Blank")?.id || templates[0]?.id || "";
  const submit = async (e: Event) => {
    e.preventDefault();
    const bad = checkVmForm(name, memory) ?? (clusterId ? undefined : "There is no cluster to put the VM in.");
    if (bad) return setError(bad);
    setBusy(true);
    setError(undefined);
    try {
      const body: Record<string, unknown> = { name, cluster: { id: clusterId } };
      if (templateId) body.template = { id: templateId };
      if (memory) body.memory = String(Number(memory) * MiB);
      const vm = await api<{ id: string }>("POST", "/vms", body);
      if (start) await api("POST", `/vms/${encodeURIComponent(vm.id)}/start`, {});
      p.onClose(true);
    } catch (err) {
      setError(message(err));
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
      <div class="buttons">
        <button type="button" onClick={() => p.onClose(false)}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Creating…" : "Create"}
        </button>
      </div>
    </form>
  );
}
