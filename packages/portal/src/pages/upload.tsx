/**
 * Upload a disk image (qcow2, raw or ISO) from this computer into a new disk: pick the file and
 * the storage domain, then watch the bytes go out (a progress bar) and the engine's check. A
 * refusal shows the engine's fault text; the half-made disk is removed (lib/transfer.ts).
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, items, message } from "../lib/api";
import { bytes } from "../lib/format";
import type { StorageDomain } from "../lib/model";
import { type Progress, uploadDisk } from "../lib/transfer";
import { Alert, Page } from "../ui/widgets";

const PHASE: Record<Progress["phase"], string> = {
  disk: "Creating the disk…",
  starting: "Starting the transfer…",
  sending: "Sending…",
  checking: "The engine checks the image…",
  done: "Uploaded.",
};

/** A disk name from a file name: its base without the extension, in the characters disk names allow. */
function aliasOf(fileName: string): string {
  const base = fileName.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_.-]/g, "_");
  return base.slice(0, 200) || "upload";
}

export function Upload(): JSX.Element {
  const [domains, setDomains] = useState<StorageDomain[]>([]);
  const [file, setFile] = useState<File>();
  const [alias, setAlias] = useState("");
  const [sd, setSd] = useState("");
  const [progress, setProgress] = useState<Progress>();
  const [error, setError] = useState<string>();
  const [diskId, setDiskId] = useState<string>();
  const busy = progress !== undefined && progress.phase !== "done";

  useEffect(() => {
    api("GET", "/storagedomains")
      .then((b) => {
        const data = items<StorageDomain>(b, "storage_domain").filter((d) => d.type === "data");
        setDomains(data);
        if (data[0]) setSd((cur) => cur || data[0]?.id || "");
      })
      .catch((err: unknown) => setError(message(err)));
  }, []);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setError(undefined);
    setDiskId(undefined);
    if (!file) return setError("Choose an image file to upload.");
    if (!sd) return setError("Choose a storage domain.");
    if (!alias.trim()) return setError("Give the new disk a name.");
    try {
      setDiskId(await uploadDisk(file, alias.trim(), sd, setProgress));
    } catch (err) {
      setProgress(undefined);
      setError(message(err));
    }
  };

  const pct = progress && progress.total > 0 ? Math.floor((100 * progress.sent) / progress.total) : 0;
  return (
    <Page title="Upload a disk image">
      <Alert text={error} onClose={() => setError(undefined)} />
      <form class="panel" onSubmit={(e) => void submit(e)} aria-label="Upload" noValidate>
        <div class="grid">
          <label for="up-file">Image file (qcow2, raw or ISO)</label>
          <input
            id="up-file"
            type="file"
            accept=".qcow2,.img,.raw,.iso,application/octet-stream"
            disabled={busy}
            onChange={(e) => {
              const f = e.currentTarget.files?.[0];
              setFile(f);
              if (f && !alias) setAlias(aliasOf(f.name));
            }}
          />
          <label for="up-alias">Disk name</label>
          <input id="up-alias" value={alias} disabled={busy} required maxLength={255} onInput={(e) => setAlias(e.currentTarget.value)} />
          <label for="up-sd">Storage domain</label>
          <select id="up-sd" value={sd} disabled={busy} onChange={(e) => setSd(e.currentTarget.value)}>
            {domains.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
                {d.available ? ` (${bytes(d.available)} free)` : ""}
              </option>
            ))}
          </select>
        </div>
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Uploading…" : "Upload"}
          </button>
        </div>
      </form>
      {progress && (
        <div class="upload-progress" aria-live="polite">
          <progress max={100} value={pct} aria-label="Upload progress" /> <span class="pct">{pct} %</span>
          <p>
            {PHASE[progress.phase]} {bytes(progress.sent)} of {bytes(progress.total)}
          </p>
        </div>
      )}
      {diskId && progress?.phase === "done" && (
        <p role="status">
          Disk <strong>{alias}</strong> is ready (<a href="#/disks">disks</a>).
        </p>
      )}
    </Page>
  );
}
