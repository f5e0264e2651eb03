/**
 * Recovery: the agent keeps no state of its own, so on start it rebuilds its VM table from
 * <runDir>/vms/*: a VM whose QEMU still runs (pidfile + identity check) is taken over through its
 * QMP socket; a VM whose QEMU is gone is reported Down with the exit it recorded, or as lost.
 * A directory without a readable record belongs to a create that never answered: its QEMU, if
 * any, is stopped and the directory removed. Never kills a process that is not that VM's QEMU.
 */
import type { NodeContext } from "../api/context.js";
import { isVmProcess, signalVm, waitGone } from "./process.js";
import { QmpClient } from "../qemu/qmp.js";
import { listVmDirs, readPid, readRecord, removeVmDir, vmPaths } from "./rundir.js";
import { ExitReason } from "./status.js";
import { Vm } from "./vm.js";

const CONNECT_ATTEMPTS = 5;

async function connectWithRetry(path: string): Promise<QmpClient> {
  let last: unknown;
  for (let i = 0; i < CONNECT_ATTEMPTS; i++) {
    try {
      return await QmpClient.connect(path, { timeoutMs: 5000 });
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
  }
  throw last;
}

async function recoverOne(ctx: NodeContext, vmId: string): Promise<Vm | undefined> {
  const paths = vmPaths(ctx.config.runDir, vmId);
  const log = ctx.log.child({ vmId });
  const rec = await readRecord(paths);
  const pid = await readPid(paths);
  const running = pid !== undefined && (await isVmProcess(pid, paths.qmp));
  if (!rec) {
    log.warn({ pid, running }, "VM directory without a record: cleaning up an unfinished create");
    if (running && pid !== undefined && (await signalVm(pid, paths.qmp, "SIGKILL"))) await waitGone(pid, 5000);
    await removeVmDir(paths);
    return undefined;
  }
  const vm = new Vm(rec, paths, log);
  if (rec.exit) return vm;
  if (!running || pid === undefined) {
    await vm.markDown({ code: 1, reason: ExitReason.LOST_QEMU_CONNECTION, message: "QEMU is not running: it exited, or never started, while the agent was not running" });
    return vm;
  }
  try {
    const qmp = await connectWithRetry(paths.qmp);
    await vm.attach(pid, qmp);
    const st = await qmp.queryStatus();
    // An agent that died between launching QEMU and `cont` leaves the guest in prelaunch: finish.
    if (st.status === "prelaunch") await qmp.cont();
    // Powered off while no agent watched (the SHUTDOWN event went unread): only a guest does that
    // under -no-shutdown, so end QEMU as if the event had been read now.
    if (st.status === "shutdown") vm.onShutdown(qmp, { guest: true, reason: "guest-shutdown" });
    log.info({ pid, qemuStatus: st.status, vncPort: vm.vncPort }, "VM recovered");
  } catch (e) {
    // Alive but not controllable: keep it listed; status() reports monitorResponse -1.
    log.error({ pid, err: String(e) }, "VM recovered without QMP");
    vm.pid = pid;
  }
  return vm;
}

/** All VMs found in the run directory, keyed by id. */
export async function recoverVms(ctx: NodeContext): Promise<Map<string, Vm>> {
  const out = new Map<string, Vm>();
  for (const id of await listVmDirs(ctx.config.runDir)) {
    try {
      const vm = await recoverOne(ctx, id);
      if (vm) out.set(id, vm);
    } catch (e) {
      ctx.log.error({ vmId: id, err: String(e) }, "cannot recover VM");
    }
  }
  return out;
}
