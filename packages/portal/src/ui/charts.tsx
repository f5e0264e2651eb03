/**
 * Charts of a host's or VM's last hour (CPU, memory, network and disk I/O) with uPlot, from the
 * engine's `…/statistics/history` (one point per 10 s at most, kept by the engine's monitors).
 * uPlot is loaded when the first chart opens (a chunk of its own); the history is read again
 * every 10 s while the panel is open.
 */
import "uplot/dist/uPlot.min.css";
import type { JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type uPlot from "uplot";
import { api } from "../lib/api";
import { bytes } from "../lib/format";
import { usePoll } from "../lib/hooks";
import { Alert, WidePanel } from "./widgets";

interface Sample {
  time?: string;
  cpu?: string;
  memory_used?: string;
  network_rx?: string;
  network_tx?: string;
  disk_read?: string;
  disk_write?: string;
}

type Key = Exclude<keyof Sample, "time">;

interface ChartDef {
  title: string;
  series: [Key, string][];
  format: (v: number) => string;
}

const rate = (v: number) => `${bytes(String(Math.round(v)))}/s`;
const CHARTS: ChartDef[] = [
  { title: "CPU", series: [["cpu", "CPU %"]], format: (v) => `${v.toFixed(1)} %` },
  { title: "Memory", series: [["memory_used", "used"]], format: (v) => bytes(String(Math.round(v))) },
  { title: "Network", series: [["network_rx", "receive"], ["network_tx", "transmit"]], format: rate },
  { title: "Disk I/O", series: [["disk_read", "read"], ["disk_write", "write"]], format: rate },
];
const COLOURS = ["#0f6cbd", "#c2410c"];

/** uPlot's columns: epoch seconds, then one column per series (null where a point has no value). */
function columns(samples: Sample[], def: ChartDef): (number | null)[][] {
  const xs = samples.map((s) => Number(s.time) / 1000);
  return [xs, ...def.series.map(([k]) => samples.map((s) => (s[k] === undefined ? null : Number(s[k]))))];
}

function Chart(p: { def: ChartDef; samples: Sample[]; label: string }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const empty = p.samples.every((s) => p.def.series.every(([k]) => s[k] === undefined));
  useEffect(() => {
    let alive = true;
    void import("uplot").then(({ default: UPlot }) => {
      if (!alive || !box.current) return;
      const data = columns(p.samples, p.def) as uPlot.AlignedData;
      if (plot.current) {
        plot.current.setData(data);
        return;
      }
      plot.current = new UPlot(
        {
          width: 320,
          height: 150,
          title: p.def.title,
          series: [{}, ...p.def.series.map(([, name], i) => ({ label: name, stroke: COLOURS[i], width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? "–" : p.def.format(v)) }))],
          axes: [{}, { size: 70, values: (_u: uPlot, vs: number[]) => vs.map((v) => p.def.format(v)) }],
          scales: { y: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(max, p.def.title === "CPU" ? 100 : 1)] } },
        },
        data,
        box.current,
      );
    });
    return () => {
      alive = false;
    };
  }, [p.samples]);
  useEffect(() => () => plot.current?.destroy(), []);
  return (
    <figure class="chart" aria-label={`${p.def.title} of ${p.label}`}>
      <div ref={box} />
      {empty && <figcaption class="muted">no {p.def.title.toLowerCase()} figures</figcaption>}
    </figure>
  );
}

export function Charts(p: { kind: "hosts" | "vms"; id: string; name: string; onClose: () => void }): JSX.Element {
  const view = usePoll(async () => {
    const h = await api<{ sample?: Sample[] }>("GET", `/${p.kind}/${encodeURIComponent(p.id)}/statistics/history`);
    return h.sample ?? [];
  }, 10_000, [p.kind, p.id]);
  return (
    <WidePanel id="charts-title" title={<>Last hour of {p.name}</>} closeLabel="Close charts" onClose={p.onClose} status={
        <span class="muted" data-points={view.data?.length ?? 0}>
          {view.data ? `${view.data.length} points` : "loading…"}
        </span>
      }
    >
      <Alert text={view.error} />
      <div class="charts">{view.data && CHARTS.map((d) => <Chart key={d.title} def={d} samples={view.data as Sample[]} label={p.name} />)}</div>
    </WidePanel>
  );
}
