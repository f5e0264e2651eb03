/**
 * Import into a disk (`POST /disks/{id}/import`, a Vela extension standing in for oVirt's
 * imagetransfers upload): the SPM host copies an image file from a directory its operator allowed
 * (the node's VELA_NODE_IMPORT_DIRS) into the disk's single volume, converting to the disk's
 * format. Body: `{"path": "/abs/file.qcow2", "format": "qcow2"|"raw"}`. The disk must be usable,
 * have no snapshots, belong to no template and not be used by a running VM; it is locked while the
 * import runs as a job. `vela up` uses it to fill the `tiny` template's disk.
 */
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { Enum, parseInput } from "../input/input.js";
import type { DataCenter, Disk, Host } from "../db/schema.js";
import { engineStep } from "../jobs/jobs.js";
import { BootPath } from "./AddVm.js";
import { inBackground, type Started } from "./background.js";
import { actualSizeOf, ensureNotInPreview, ensureUsable, poolOf, runningUsers, setDiskStatus } from "./chains.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";

const Input = z.object({ path: BootPath, format: Enum(["qcow2", "raw"]).optional() });

interface Plan {
  disk: Disk;
  dc: DataCenter;
  spm: Host;
  path: string;
  format: "qcow2" | "raw";
}

export const ImportDisk: CommandDef<{ id: string; body: unknown }, Plan, Started> = {
  name: "import Disk",
  locks: (i) => [`disk:${i.id}`],
  async validate(e, { id, body }) {
    const disk = await mustById(e, "disks", id);
    const p = parseInput(Input, body, "action", "import");
    if (disk.template_id) throw conflict(`Cannot import Disk: disk ${disk.alias} belongs to a template`);
    ensureUsable(e, disk, "import Disk", true);
    const vm = (await runningUsers(e, disk.id))[0];
    if (vm) throw conflict(`Cannot import Disk: VM ${vm.name} using disk ${disk.alias} is ${vm.status}`);
    await ensureNotInPreview(e, `import Disk ${disk.alias}`, { diskId: disk.id });
    const volumes = await e.db.selectFrom("images").select("id").where("disk_id", "=", disk.id).execute();
    if (volumes.length !== 1) throw conflict(`Cannot import Disk: disk ${disk.alias} has snapshots`);
    const { dc, spm } = await poolOf(e, disk, "import Disk");
    return { disk, dc, spm, path: p.path, format: p.format ?? "qcow2" };
  },
  describe: (p) => `Importing ${p.path} into Disk ${p.disk.alias}`,
  async execute(e, { disk, dc, spm, path, format }, x) {
    await setDiskStatus(e, disk.id, "locked");
    x.revert.push("unlock the disk", () => setDiskStatus(e, disk.id, disk.status));
    return inBackground(e, x, "import Disk", async () => {
      // A synchronous verb (no SPM task): the node answers when the copy is done.
      await engineStep(e, x.jobId, "executing", `Importing ${path} into image ${disk.id} on ${spm.name}`, () =>
        e.nodes.for(spm).call("importImageFile", {
          sdUUID: disk.storage_domain_id,
          spUUID: dc.id,
          imgUUID: disk.id,
          volUUID: disk.image_id,
          path,
          format,
        }),
      );
      await engineStep(e, x.jobId, "finalizing", "Recording the imported disk", async () => {
        const actual = await actualSizeOf(e, spm, dc.id, disk);
        await e.db.updateTable("disks").set({ status: "ok", actual_size: actual }).where("id", "=", disk.id).execute();
      });
    });
  },
};
