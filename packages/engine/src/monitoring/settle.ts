/**
 * What the VM monitor does when a node reports a VM down: destroy its remains on the node (VDSM
 * keeps a Down VM until the engine destroys it; destroy releases its images), record it down.
 */
import { settleDown } from "../commands/vmDown.js";
import type { Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";

export class StopVmSettle {
  constructor(private e: Engine) {}

  /** Whether it recorded the VM down (false: a command works on it, try again next poll). */
  async down(vm: Vm, hostId: string, stillListed: boolean, pollStarted: number): Promise<boolean> {
    const e = this.e;
    let release: () => void;
    try {
      release = e.locks.acquire([`vm:${vm.id}`], "record VM down");
    } catch {
      return false; // a command is working on it
    }
    try {
      if ((e.vmTouched.get(vm.id) ?? 0) >= pollStarted) return false;
      const host = await e.db.selectFrom("hosts").selectAll().where("id", "=", hostId).executeTakeFirst();
      let released = false;
      if (host && stillListed) {
        released = await e.nodes
          .for(host)
          .call("destroy", { vmId: vm.id })
          .then(() => true)
          .catch((err: unknown) => {
            e.log.warn({ err, vm: vm.name }, "destroy of a down VM failed");
            return false;
          });
      }
      await settleDown(e, vm, host, released);
      e.log.info({ vm: vm.name, host: host?.name }, "VM is down");
      return true;
    } finally {
      release();
    }
  }
}
