/**
 * The portal's building blocks: a data table, status badges coloured by what the status means,
 * an alert for API faults, and a usage bar. Plain semantic HTML (table, th scope, role=alert) so
 * screen readers and keyboards work without extra wiring.
 */
import type { ComponentChildren, JSX } from "preact";

export interface Column<T> {
  label: string;
  cell: (row: T) => ComponentChildren;
  /** Right-aligned (numbers, sizes). */
  num?: boolean;
}

/** A table's header row (`rowIndex`: its `aria-rowindex` where rows are virtual). */
export function TableHead<T>(p: { columns: Column<T>[]; rowIndex?: number }): JSX.Element {
  return (
    <thead>
      <tr aria-rowindex={p.rowIndex}>
        {p.columns.map((c) => (
          <th scope="col" class={c.num ? "num" : undefined} key={c.label}>
            {c.label}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** The one row of a table with nothing to show yet ("Loading…") or nothing at all. */
export function NoRows(p: { span: number; text: string }): JSX.Element {
  return (
    <tr>
      <td colSpan={p.span} class="muted">
        {p.text}
      </td>
    </tr>
  );
}

/** One row's cells. */
export function Cells<T>(p: { columns: Column<T>[]; row: T }): JSX.Element {
  return (
    <>
      {p.columns.map((c) => (
        <td class={c.num ? "num" : undefined} key={c.label}>
          {c.cell(p.row)}
        </td>
      ))}
    </>
  );
}

export function Table<T extends { id: string }>(p: { caption: string; columns: Column<T>[]; rows?: T[]; empty: string }): JSX.Element {
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">{p.caption}</caption>
        <TableHead columns={p.columns} />
        <tbody>
          {p.rows === undefined || p.rows.length === 0 ? (
            <NoRows span={p.columns.length} text={p.rows === undefined ? "Loading…" : p.empty} />
          ) : (
            p.rows.map((r) => (
              <tr key={r.id} data-id={r.id}>
                <Cells columns={p.columns} row={r} />
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

const GOOD = new Set(["up", "active", "ok", "finished", "operational", "spm"]);
const BUSY = new Set([
  "powering_up",
  "powering_down",
  "wait_for_launch",
  "reboot_in_progress",
  "saving_state",
  "restoring_state",
  "migrating",
  "locked",
  "started",
  "image_locked",
  "initializing",
  "installing",
  "preparing_for_maintenance",
  "activating",
  "connecting",
  "contending",
  "preview",
]);
const BAD = new Set(["error", "failed", "illegal", "non_responsive", "non_operational", "not_responding", "inactive", "install_failed", "unknown", "aborted"]);

/** `up` in green, `powering_up` in blue, `non_responsive` in red, everything else grey. */
export function Status(p: { value?: string }): JSX.Element {
  const v = p.value ?? "unknown";
  const kind = GOOD.has(v) ? "good" : BUSY.has(v) ? "busy" : BAD.has(v) ? "bad" : "idle";
  return <span class={`badge badge-${kind}`}>{v.replace(/_/g, " ")}</span>;
}

/** The API's fault (reason: detail), announced to screen readers. */
export function Alert(p: { text?: string; onClose?: () => void }): JSX.Element | null {
  if (!p.text) return null;
  return (
    <div class="alert" role="alert">
      <span>{p.text}</span>
      {p.onClose && (
        <button type="button" class="link" onClick={p.onClose} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

/** Used of total as a bar with its percentage. */
export function Usage(p: { used?: string; total?: string }): JSX.Element | null {
  const used = Number(p.used);
  const total = Number(p.total);
  if (!Number.isFinite(used) || !Number.isFinite(total) || total <= 0) return null;
  const pct = Math.min(100, Math.round((used / total) * 100));
  return (
    <span class="usage">
      <meter min={0} max={100} value={pct} high={85} optimum={0} aria-label={`${pct} % used`} /> {pct} %
    </span>
  );
}

export function Page(p: { title: string; actions?: ComponentChildren; children: ComponentChildren }): JSX.Element {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{p.title}</h1>
        <div class="page-actions">{p.actions}</div>
      </header>
      {p.children}
    </section>
  );
}

/** A creation form's Cancel and Create buttons; Create is disabled and says so while it runs. */
/** A wide panel opened beside a page (snapshots, charts, a serial console, a network's parts): a titled header, an optional status, a Close button. */
export function WidePanel(p: { id: string; title: ComponentChildren; closeLabel: string; onClose: () => void; status?: ComponentChildren; children: ComponentChildren }): JSX.Element {
  return (
    <section class="panel wide" aria-labelledby={p.id}>
      <header class="page-head">
        <h2 id={p.id}>{p.title}</h2>
        {p.status}
        <button type="button" onClick={p.onClose} aria-label={p.closeLabel}>
          Close
        </button>
      </header>
      {p.children}
    </section>
  );
}

export function CreateButtons(p: { busy: boolean; onCancel: () => void }): JSX.Element {
  return (
    <div class="buttons">
      <button type="button" onClick={p.onCancel}>
        Cancel
      </button>
      <button type="submit" class="primary" disabled={p.busy}>
        {p.busy ? "Creating…" : "Create"}
      </button>
    </div>
  );
}
