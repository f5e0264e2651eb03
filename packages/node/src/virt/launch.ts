/**
 * Starting a VM, in two halves. `prepareVm` runs inside the create verb: it checks the definition
 * against this host (boot files, bridges, accelerator, socket paths), prepares the drives, creates
 * taps and writes the run directory — and undoes all of it if any step fails, so bad input leaves
 * nothing behind. `startVm` runs after create has answered WaitForLaunch: it launches QEMU
 * (daemonized, paused), attaches QMP and lets the guest run. A failure there makes the VM Down
 * with the reason; its resources stay until destroy, as VDSM does.
 */
import { Revert, VdsmError, type VmParams } from "@vela/protocol";
import type { NodeContext } from "../api/context.js";
import type { ImageService } from "../api/services.js";
import { CommandError, run } from "../exec.js";
import { QmpClient } from "../qemu/qmp.js";
import { accelerators, vmAccel } from "./accel/index.js";
import { cdromArgv, cdromPath } from "./cdrom.js";
import { balloonArgv, enableBalloonStats } from "./mom/balloon.js";
import { buildArgv } from "./config/argv.js";
import { type BootPlan, planBoot } from "./config/boot.js";
import { checkDrives, driveNames, driveRecord, drivesArgv } from "./config/drive.js";
import { checkNics, createTap, deleteTap, nicsArgv, tapName } from "./config/nic.js";
import { payloadArgv, writePayload } from "./config/payload.js";
import { isVmProcess, signalVm, waitGone } from "./process.js";
import {
  createVmDir,
  type DriveRecord,
  MAX_SOCKET_PATH,
  readPid,
  removeVmDir,
  type VmRecord,
  vmPaths,
  writeRecord,
} from "./rundir.js";
import { ExitReason } from "./status.js";
import { Vm } from "./vm.js";

export interface Prepared {
  vm: Vm;
  boot: BootPlan;
}

function socketPathsFit(runDir: string, vmId: string): void {
  const paths = vmPaths(runDir, vmId);
  for (const p of [paths.qmp, paths.console]) {
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH) {
      throw new VdsmError("createErr", `run directory ${runDir} is too deep for unix sockets (${p})`);
    }
  }
}

async function prepareDrives(params: VmParams, images: ImageService, revert: Revert): Promise<DriveRecord[]> {
  const names = driveNames(params.drives);
  const records: DriveRecord[] = [];
  for (const [i, spec] of params.drives.entries()) {
    const prepared = await images.prepare(spec).catch((e: unknown) => {
      if (e instanceof VdsmError) throw e;
      throw new VdsmError("createErr", `cannot prepare image ${spec.imageID}: ${(e as Error).message}`, { cause: e });
    });
    revert.push(`teardown ${spec.imageID}`, () => images.teardown(spec));
    records.push(driveRecord(spec, prepared, i, names[i]));
  }
  return records;
}

/** The create verb's part: everything that can refuse bad input, undone on failure. */
export async function prepareVm(ctx: NodeContext, images: ImageService, params: VmParams): Promise<Prepared> {
  const log = ctx.log.child({ vmId: params.vmId });
  const revert = new Revert((what, err) => log.warn({ undo: what, err: String(err) }, "revert step failed"));
  try {
    socketPathsFit(ctx.config.runDir, params.vmId);
    const boot = await planBoot(params, ctx.config.bootDirs);
    checkDrives(params.drives);
    checkNics(params.nics);
    const accel = await vmAccel(params.accel, ctx.config.accel, { log: ctx.log, bootDirs: ctx.config.bootDirs });
    const drives = await prepareDrives(params, images, revert);
    const taps: string[] = [];
    for (const [i, nic] of params.nics.entries()) {
      if (nic.network === "user") {
        taps.push("");
        continue;
      }
      const tap = tapName(ctx.config.runDir, params.vmId, i);
      await createTap(tap, nic.network, log);
      revert.push(`delete tap ${tap}`, () => deleteTap(tap, log));
      taps.push(tap);
    }
    const paths = vmPaths(ctx.config.runDir, params.vmId);
    // A directory without a VM in the registry is a leftover of a failed start: replace it.
    await removeVmDir(paths);
    await createVmDir(paths);
    revert.push("remove run dir", () => removeVmDir(paths));
    // The payload may carry secrets: it is written out once and kept out of vm.json.
    const { payload, ...kept } = params;
    const payloadPath = payload ? await writePayload(paths.dir, payload, log) : undefined;
    const cdrom = await cdromPath(images, params.cdrom);
    const rec: VmRecord = { version: 1, params: kept, accel: accel.name, createdAt: Date.now(), drives, taps, payload: payloadPath, cdrom };
    await writeRecord(paths, rec);
    revert.success();
    return { vm: new Vm(rec, paths, log), boot };
  } catch (e) {
    await revert.run();
    if (e instanceof VdsmError) throw e;
    throw new VdsmError("createErr", (e as Error).message, { cause: e });
  }
}

function startFailure(message: string) {
  return { code: 1 as const, reason: ExitReason.START_FAILED, message };
}

/** Launches QEMU for a prepared VM. Never throws: failures end as a Down VM with the reason. */
/** `beforeGuest` runs once QEMU is controlled, before the guest's first instruction (the thin-drive watch). */
export async function startVm(ctx: NodeContext, prepared: Prepared, beforeGuest?: () => Promise<void>): Promise<void> {
  const { vm, boot } = prepared;
  const log = ctx.log.child({ vmId: vm.id });
  const { params } = vm.rec;
  let argv: string[];
  try {
    argv = buildArgv({
      params,
      accel: accelerators[vm.rec.accel],
      paths: vm.paths,
      boot,
      drives: [...(await drivesArgv(params.drives, vm.rec.drives)), ...payloadArgv(vm.rec.payload), ...cdromArgv(vm.rec.cdrom), ...balloonArgv(params)],
      nics: nicsArgv(params.nics, vm.rec.taps),
      displayAddress: ctx.config.displayAddress,
    });
  } catch (e) {
    await vm.markDown(startFailure(`cannot build the QEMU command line: ${(e as Error).message}`));
    return;
  }
  ctx.fault("virt.start.before-qemu");
  try {
    // -daemonize: returns once QEMU is initialised (sockets listening) or has failed
    await run(argv, { log, timeoutMs: 60_000 });
  } catch (e) {
    const msg = e instanceof CommandError ? e.stderr.trim() || e.message : String(e);
    log.warn({ err: msg }, "QEMU did not start");
    await vm.markDown(startFailure(`QEMU did not start: ${msg.slice(0, 1000)}`));
    return;
  }
  const pid = await readPid(vm.paths);
  let qmp: QmpClient | undefined;
  try {
    if (pid === undefined || !(await isVmProcess(pid, vm.paths.qmp))) throw new Error("QEMU exited right after starting");
    qmp = await QmpClient.connect(vm.paths.qmp, { timeoutMs: 10_000 });
    await vm.attach(pid, qmp);
    // a NIC defined unlinked starts with its cable pulled, before the guest runs
    for (const [i, nic] of params.nics.entries()) if (!nic.linkActive) await qmp.setLink(`nic${i}`, false);
    if (params.balloon) await enableBalloonStats(qmp);
    if (beforeGuest && !vm.destroying) await beforeGuest();
    ctx.fault("virt.start.before-cont");
    if (!vm.destroying) await qmp.cont();
    log.info({ pid, accel: vm.rec.accel, vncPort: vm.vncPort }, "VM started");
  } catch (e) {
    log.warn({ err: String(e) }, "cannot take over the new QEMU");
    vm.detach(); // our own kill below is not an exit to report from the QMP side
    qmp?.close();
    if (pid !== undefined && (await signalVm(pid, vm.paths.qmp, "SIGKILL"))) await waitGone(pid, 5000);
    await vm.markDown(startFailure(`QEMU started but could not be controlled: ${(e as Error).message}`));
  }
}
