/**
 * A VM's snapshots, below the VM list: create one (with a description, checked before sending),
 * preview one while the VM is down, then commit or undo the preview, and remove old ones. Each
 * button is offered only where the engine would take it; its refusals are shown in its words.
 * Reloads when the event stream tells of the VM or of a job (snapshot tasks end as jobs).
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, items } from "../lib/api";
import { time } from "../lib/format";
import { useLive, useRunner } from "../lib/hooks";
import type { Snapshot, Vm } from "../lib/model";
import { confirm } from "./confirm";
import { Alert, type Column, Status, Table, WidePanel } from "./widgets";

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
const DESCRIPTION = /^[^\u0000-\u001f\u007f]{1,255}$/;

/** What is wrong with a new snapshot's description, or undefined. */
export function checkSnapshotDescription(d: string): string | undefined {
  return DESCRIPTION.test(d.trim()) ? undefined : "Description: 1 to 255 characters, no control characters.";
}

export function VmSnapshots(p: { vm: Vm; onClose: () => void }): JSX.Element {
  const { vm } = p;
  const base = `/vms/${encodeURIComponent(vm.id)}`;
  const view = useLive(async () => items<Snapshot>(await api("GET", `${base}/snapshots`), "snapshot"), (m) => m.type === "job" || (m.type === "event" && m.vm === vm.id), [vm.id]);
  const [description, setDescription] = useState("");
  const { busy, error, setError, run } = useRunner(() => view.reload());
  const snaps = view.data ?? [];
  const inPreview = snaps.some((s) => s.snapshot_status === "in_preview");
  const create = (e: Event) => {
    e.preventDefault();
    const bad = checkSnapshotDescription(description);
    if (bad) return setError(bad);
    void run(async () => {
      await api("POST", `${base}/snapshots`, { description: description.trim() });
      setDescription("");
    });
  };
  const label = (s: Snapshot) => s.description ?? s.id;
  const columns: Column<Snapshot>[] = [
    { label: "Description", cell: (s) => <span class="name">{label(s)}</span> },
    { label: "Date", cell: (s) => time(s.date) },
    { label: "Type", cell: (s) => s.snapshot_type ?? "" },
    { label: "Status", cell: (s) => <Status value={s.snapshot_status === "in_preview" ? "preview" : s.snapshot_status} /> },
    {
      label: "Actions",
      cell: (s) =>
        s.snapshot_type === "active" ? (
          ""
        ) : (
          <div class="actions">
            {!inPreview && (
              <button type="button" disabled={busy} aria-label={`Preview ${label(s)}`} onClick={() => run(() => api("POST", `${base}/previewsnapshot`, { snapshot: { id: s.id } }))}>
                Preview
              </button>
            )}
            <button
              type="button"
              class="danger"
              disabled={busy || s.snapshot_status === "in_preview"}
              aria-label={`Remove ${label(s)}`}
              onClick={async () => {
                if (await confirm(`Remove snapshot ${label(s)}?`, "Its data is merged away; you can no longer go back to it.", "Remove")) {
                  await run(() => api("DELETE", `${base}/snapshots/${encodeURIComponent(s.id)}`));
                }
              }}
            >
              Remove
            </button>
          </div>
        ),
    },
  ];
  return (
    <WidePanel id="snap-title" title={<>Snapshots of {vm.name}</>} closeLabel="Close snapshots" onClose={p.onClose}>
      <Alert text={error ?? view.error} onClose={error ? () => setError(undefined) : undefined} />
      {inPreview && (
        <p class="notice preview">
          {vm.name} runs from a snapshot preview.{" "}
          <button type="button" class="primary" disabled={busy} onClick={() => run(() => api("POST", `${base}/commitsnapshot`, {}))}>
            Commit
          </button>{" "}
          <button type="button" disabled={busy} onClick={() => run(() => api("POST", `${base}/undosnapshot`, {}))}>
            Undo
          </button>
        </p>
      )}
      <form class="inline" onSubmit={create} noValidate>
        <label for="snap-desc">New snapshot</label>
        <input id="snap-desc" value={description} onInput={(e) => setDescription(e.currentTarget.value)} placeholder="description" />
        <button type="submit" disabled={busy}>
          Create snapshot
        </button>
      </form>
      <Table caption={`Snapshots of ${vm.name}`} columns={columns} rows={view.data} empty="No snapshots." />
    </WidePanel>
  );
}
