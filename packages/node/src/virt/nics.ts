/**
 * A running VM's NICs: link state (QMP `set_link`, VDSM's `VM.updateDevice` with `linkActive`),
 * hot-plug (tap on the bridge, `netdev_add`, `device_add`) and hot-unplug (`device_del`, waiting
 * for the guest to release the device, then `netdev_del` and the tap). NICs are found by MAC; each
 * has a slot number that names its QEMU ids and tap, kept in vm.json so a restarted agent can
 * still find them.
 */
import { type NicSpec, VdsmError } from "@vela/protocol";
import type { NodeContext } from "../api/context.js";
import { checkNics, createTap, deleteTap, NIC_DRIVER, tapName } from "./config/nic.js";
import { writeRecord } from "./rundir.js";
import type { Vm } from "./vm.js";

const UNPLUG_WAIT_MS = 20_000;
const MAX_NICS = 16;

function slots(vm: Vm): number[] {
  return vm.rec.nicSlots ?? vm.rec.params.nics.map((_, i) => i);
}

function indexOfMac(vm: Vm, mac: string): number {
  const i = vm.rec.params.nics.findIndex((n) => n.macAddr === mac);
  if (i < 0) throw new VdsmError("updateDevice", `VM ${vm.id} has no NIC with MAC ${mac}`);
  return i;
}

function liveQmp(vm: Vm, err: "hotplugNic" | "hotunplugNic" | "updateDevice") {
  if (vm.isDown || !vm.qmp?.isOpen) throw new VdsmError(err, `VM ${vm.id} is not running`);
  return vm.qmp;
}

async function save(vm: Vm, nics: NicSpec[], taps: string[], nicSlots: number[]): Promise<void> {
  vm.rec.params = { ...vm.rec.params, nics };
  vm.rec.taps = taps;
  vm.rec.nicSlots = nicSlots;
  await writeRecord(vm.paths, vm.rec);
}

export async function setLink(vm: Vm, mac: string, up: boolean): Promise<void> {
  const qmp = liveQmp(vm, "updateDevice");
  const i = indexOfMac(vm, mac);
  await qmp.setLink(`nic${slots(vm)[i]}`, up).catch((e: unknown) => {
    throw new VdsmError("updateDevice", `set_link on ${mac}: ${(e as Error).message}`, { cause: e });
  });
  const nics = vm.rec.params.nics.map((n, k) => (k === i ? { ...n, linkActive: up } : n));
  await save(vm, nics, vm.rec.taps, slots(vm));
}

export async function hotplugNic(ctx: NodeContext, vm: Vm, nic: NicSpec): Promise<void> {
  const qmp = liveQmp(vm, "hotplugNic");
  const cur = vm.rec.params.nics;
  if (cur.length >= MAX_NICS) throw new VdsmError("hotplugNic", `VM ${vm.id} already has ${MAX_NICS} NICs`);
  try {
    checkNics([...cur, nic]);
  } catch (e) {
    throw new VdsmError("hotplugNic", (e as VdsmError).detail || (e as Error).message);
  }
  if (nic.network === "user") throw new VdsmError("hotplugNic", "user networking cannot be hot-plugged");
  const used = new Set(slots(vm));
  const slot = [...Array(MAX_NICS).keys()].find((s) => !used.has(s)) as number;
  const tap = tapName(ctx.config.runDir, vm.id, slot);
  const log = ctx.log.child({ vmId: vm.id });
  await createTap(tap, nic.network, log);
  let netdevAdded = false;
  try {
    await qmp.netdevAdd({ type: "tap", id: `net${slot}`, ifname: tap, script: "no", downscript: "no" });
    netdevAdded = true;
    await qmp.deviceAdd({ driver: NIC_DRIVER[nic.nicModel], id: `nic${slot}`, netdev: `net${slot}`, mac: nic.macAddr });
    if (!nic.linkActive) await qmp.setLink(`nic${slot}`, false);
  } catch (e) {
    if (netdevAdded) await qmp.netdevDel(`net${slot}`).catch(() => {});
    await deleteTap(tap, log);
    throw new VdsmError("hotplugNic", (e as Error).message, { cause: e });
  }
  await save(vm, [...cur, nic], [...vm.rec.taps, tap], [...slots(vm), slot]);
  log.info({ mac: nic.macAddr, tap, bridge: nic.network }, "NIC hot-plugged");
}

export async function hotunplugNic(ctx: NodeContext, vm: Vm, mac: string): Promise<void> {
  const qmp = liveQmp(vm, "hotunplugNic");
  const i = vm.rec.params.nics.findIndex((n) => n.macAddr === mac);
  if (i < 0) throw new VdsmError("hotunplugNic", `VM ${vm.id} has no NIC with MAC ${mac}`);
  const slot = slots(vm)[i] as number;
  const id = `nic${slot}`;
  const deleted = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      qmp.off("DEVICE_DELETED", on);
      resolve(false);
    }, UNPLUG_WAIT_MS);
    const on = (data: { device?: string }) => {
      if (data.device !== id) return;
      clearTimeout(timer);
      qmp.off("DEVICE_DELETED", on);
      resolve(true);
    };
    qmp.on("DEVICE_DELETED", on);
  });
  try {
    await qmp.deviceDel(id);
  } catch (e) {
    throw new VdsmError("hotunplugNic", (e as Error).message, { cause: e });
  }
  if (!(await deleted)) throw new VdsmError("hotunplugNic", `the guest did not release NIC ${mac} within ${UNPLUG_WAIT_MS / 1000} s`);
  await qmp.netdevDel(`net${slot}`).catch((e: unknown) => ctx.log.warn({ vmId: vm.id, err: String(e) }, "netdev_del failed"));
  const tap = vm.rec.taps[i];
  if (tap) await deleteTap(tap, ctx.log);
  const keep = (_: unknown, k: number) => k !== i;
  await save(vm, vm.rec.params.nics.filter(keep), vm.rec.taps.filter(keep), slots(vm).filter(keep));
  ctx.log.info({ vmId: vm.id, mac }, "NIC hot-unplugged");
}
