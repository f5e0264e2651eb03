/** Formatting for tables: sizes in binary units, times in the browser's locale, uptime. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** "1.5 GiB" from a byte count (a string, as the API's JSON has it); "" when absent. */
export function bytes(v: string | number | undefined): string {
  if (v === undefined || v === "") return "";
  let n = Number(v);
  if (!Number.isFinite(n)) return "";
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n >= 100 || u === 0 ? Math.round(n) : n.toFixed(1)} ${UNITS[u]}`;
}

/** A date from the API's milliseconds since the epoch; "" when absent. */
export function time(v: string | undefined): string {
  if (!v) return "";
  const d = new Date(Number(v));
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString();
}

/** "3 h 12 min" since `start` (ms since the epoch). */
export function since(start: string | undefined, now = Date.now()): string {
  if (!start) return "";
  const s = Math.max(0, Math.round((now - Number(start)) / 1000));
  if (!Number.isFinite(s)) return "";
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
