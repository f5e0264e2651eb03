/**
 * A running VM's resource use as VDSM's getVmStats reports it, read from the kernel: CPU from
 * the QEMU process's /proc/<pid>/stat (user time is where a TCG or KVM guest's vCPUs run, system
 * time the hypervisor's work; percentages of the VM's vCPUs since the previous sample), memory
 * from its resident set (/proc/<pid>/status VmRSS), and each NIC's counters from its tap's
 * /sys/class/net/<tap>/statistics — a tap's tx is what the guest received, so they are swapped.
 */
import { readFile } from "node:fs/promises";

/** Clock ticks per second for /proc times (USER_HZ; 100 on every Linux architecture Vela runs on). */
const HZ = 100;

interface CpuSample {
  at: number;
  user: number;
  sys: number;
}

const last = new Map<number, CpuSample>();

async function cpuTicks(pid: number): Promise<{ user: number; sys: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // fields after the command name (which may hold spaces) start at state: utime is the 12th
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(f[11]), sys: Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** cpuUser / cpuSys / cpuUsage (percent of the VM's vCPUs, and cumulative nanoseconds), as VDSM. */
export async function vmCpu(pid: number, vcpus: number): Promise<Record<string, string>> {
  const t = await cpuTicks(pid);
  if (!t) return {};
  const now = Date.now();
  const prev = last.get(pid);
  last.set(pid, { at: now, ...t });
  const out: Record<string, string> = { cpuUsage: String(Math.round(((t.user + t.sys) * 1e9) / HZ)) };
  if (!prev || now <= prev.at) return { ...out, cpuUser: "0.00", cpuSys: "0.00" };
  const avail = ((now - prev.at) / 1000) * HZ * Math.max(1, vcpus);
  const pct = (d: number) => Math.min(100, Math.max(0, (100 * d) / avail)).toFixed(2);
  return { ...out, cpuUser: pct(t.user - prev.user), cpuSys: pct(t.sys - prev.sys) };
}

/** Resident memory of the QEMU process in KiB (VDSM's memUsage is what the guest uses). */
export async function vmRssKiB(pid: number): Promise<number | undefined> {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function counter(tap: string, name: string): Promise<string> {
  try {
    return (await readFile(`/sys/class/net/${tap}/statistics/${name}`, "utf8")).trim();
  } catch {
    return "0";
  }
}

/** One NIC's counters from the guest's side, in VDSM's `network` entry shape. */
export async function nicCounters(tap: string, mac: string): Promise<Record<string, string>> {
  const [rx, tx, rxE, txE, rxD, txD, rxP, txP] = await Promise.all(
    ["tx_bytes", "rx_bytes", "tx_errors", "rx_errors", "tx_dropped", "rx_dropped", "tx_packets", "rx_packets"].map((n) => counter(tap, n)),
  );
  return { name: tap, macAddr: mac, rx: rx as string, tx: tx as string, rxErrors: rxE as string, txErrors: txE as string, rxDropped: rxD as string, txDropped: txD as string, rxPackets: rxP as string, txPackets: txP as string, sampleTime: String(Date.now() / 1000) };
}
