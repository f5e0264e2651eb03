/**
 * `PUT /vms/{id}/cdroms/{id}`: sets the ISO file in a VM's CD-ROM drive (`<file id="x.iso"/>`,
 * optionally with its `<storage_domain>`), or empties it (`<file id=""/>`). As in oVirt, the change
 * is to the VM's configuration (used at its next start) unless `current=true`, which changes the
 * medium in the running VM's drive only (the node's `changeCD`, live). The file must be an ISO the
 * data center's domains hold now; the database changes only once the node has done its part.
 */
import { z } from "zod";
import { IsoFileName } from "@vela/protocol";
import { BLANK_UUID } from "@vela/protocol/ids";
import { conflict, notFound } from "../errors/fault.js";
import { parseInput, Uuid } from "../input/input.js";
import type { Host, Vm } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { findIsoFile, type IsoFile } from "./isoFiles.js";
import { mustById } from "../db/repo/entities.js";

/** The XML codec reads an empty attribute (`<file id=""/>`, oVirt's eject) as an empty element. */
const emptyAsBlank = (v: unknown) => (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0 ? "" : v);

const Input = z.object({
  file: z.object({ id: z.preprocess(emptyAsBlank, z.union([z.literal(""), IsoFileName])), storage_domain: z.object({ id: Uuid }).optional() }),
});

/** Statuses in which a VM has a QEMU whose drive can change. */
const RUNNING = new Set(["up", "paused", "powering_up", "powering_down", "reboot_in_progress", "migrating"]);

interface Plan {
  vm: Vm;
  current: boolean;
  /** undefined: eject */
  iso?: IsoFile;
  host?: Host;
}

export const ChangeCdrom: CommandDef<{ vmId: string; cdromId: string; body: unknown; current: boolean }, Plan, Vm> = {
  name: "change CD",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, cdromId, body, current }) {
    const vm = await mustById(e, "vms", vmId);
    if (cdromId.toLowerCase() !== BLANK_UUID) throw notFound("CD-ROM", cdromId.slice(0, 80));
    const p = parseInput(Input, body, "CD-ROM", "update");
    let host: Host | undefined;
    if (current) {
      if (!RUNNING.has(vm.status) || !vm.run_on_host_id) throw conflict(`Cannot change the CD of VM ${vm.name} with current=true: the VM is ${vm.status}, not running.`);
      host = await mustById(e, "hosts", vm.run_on_host_id);
    }
    if (p.file.id === "") return { vm, current, host };
    const cluster = await mustById(e, "clusters", vm.cluster_id);
    if (!cluster.data_center_id) throw conflict(`Cannot change the CD of VM ${vm.name}: its cluster has no data center`);
    const iso = await findIsoFile(e, cluster.data_center_id, p.file.id, p.file.storage_domain?.id, host);
    return { vm, current, iso, host };
  },
  describe: (p) => `${p.iso ? `Inserting ${p.iso.name} into` : "Ejecting"} the CD of VM ${p.vm.name}${p.current ? " (running)" : ""}`,
  async execute(e, { vm, current, iso, host }) {
    const file = iso?.name ?? null;
    const domain = iso?.domain.id ?? null;
    if (current && host) {
      await e.nodes.for(host).call("changeCD", { vmId: vm.id, cdrom: iso ? { domainID: iso.domain.id, file: iso.name } : { file: "" } });
      await e.db.updateTable("vms").set({ cdrom_current_file: file, cdrom_current_domain_id: domain }).where("id", "=", vm.id).execute();
      return { ...vm, cdrom_current_file: file, cdrom_current_domain_id: domain };
    }
    await e.db.updateTable("vms").set({ cdrom_file: file, cdrom_domain_id: domain }).where("id", "=", vm.id).execute();
    return { ...vm, cdrom_file: file, cdrom_domain_id: domain };
  },
};
