/**
 * Administration pages for what happens: jobs with their progress (from their steps) and, when
 * the engine has them, events. Both reload when the engine's event stream tells of a change.
 */
import type { JSX } from "preact";
import { ApiError, api, items } from "../lib/api";
import { time } from "../lib/format";
import { useLive } from "../lib/hooks";
import { anyEvent, anyJob } from "../lib/live";
import type { Event, Job, Step } from "../lib/model";
import { Alert, type Column, Page, Status, Table } from "../ui/widgets";

interface JobRow extends Job {
  /** 0..100 from the running step's progress; undefined when no step reports one. */
  progress?: number;
}

/** The newest jobs, with the progress of the running ones read from their steps. */
async function loadJobs(): Promise<JobRow[]> {
  const jobs = items<Job>(await api("GET", "/jobs"), "job")
    .sort((a, b) => Number(b.start_time ?? 0) - Number(a.start_time ?? 0))
    .slice(0, 100);
  return Promise.all(
    jobs.map(async (j): Promise<JobRow> => {
      if (j.status !== "started") return { ...j, progress: j.status === "finished" ? 100 : undefined };
      const steps = items<Step>(await api("GET", `/jobs/${encodeURIComponent(j.id)}/steps`).catch(() => ({})), "step");
      const p = steps.map((s) => Number(s.progress)).filter((n) => Number.isFinite(n) && n >= 0);
      return { ...j, progress: p.length ? Math.min(...p) : undefined };
    }),
  );
}

function Progress(p: { value?: number; status: string }): JSX.Element {
  if (p.value === undefined) return <span class="muted">{p.status === "started" ? "running" : ""}</span>;
  return (
    <span class="usage">
      <progress max={100} value={p.value} aria-label={`${p.value} %`} /> {p.value} %
    </span>
  );
}

export function Jobs(): JSX.Element {
  const view = useLive(loadJobs, anyJob);
  const columns: Column<JobRow>[] = [
    { label: "Job", cell: (j) => j.description ?? j.id },
    { label: "Status", cell: (j) => <Status value={j.status} /> },
    { label: "Progress", cell: (j) => <Progress value={j.progress} status={j.status} /> },
    { label: "Started", cell: (j) => time(j.start_time) },
    { label: "Ended", cell: (j) => time(j.end_time) },
  ];
  return (
    <Page title="Jobs">
      <Alert text={view.error} />
      <Table caption="Jobs" columns={columns} rows={view.data} empty="No jobs yet." />
    </Page>
  );
}

/** `events` undefined when this engine has no events collection (404), else the newest events. */
async function loadEvents(): Promise<{ events?: Event[] }> {
  try {
    return { events: items<Event>(await api("GET", "/events?max=200"), "event").sort((a, b) => Number(b.time ?? 0) - Number(a.time ?? 0)) };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return {};
    throw err;
  }
}

const SEVERITY: Record<string, string> = { normal: "idle", warning: "busy", error: "bad", alert: "bad" };

export function Events(): JSX.Element {
  const view = useLive(loadEvents, anyEvent);
  const columns: Column<Event>[] = [
    { label: "Time", cell: (e) => time(e.time) },
    { label: "Severity", cell: (e) => <span class={`badge badge-${SEVERITY[e.severity ?? ""] ?? "idle"}`}>{e.severity ?? ""}</span> },
    { label: "Message", cell: (e) => e.description ?? "" },
  ];
  const missing = view.data !== undefined && view.data.events === undefined;
  return (
    <Page title="Events">
      <Alert text={view.error} />
      {missing ? (
        <p class="muted">This engine does not record events yet.</p>
      ) : (
        <Table caption="Events" columns={columns} rows={view.data?.events} empty="No events." />
      )}
    </Page>
  );
}
