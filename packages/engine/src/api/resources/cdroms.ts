/**
 * A VM's CD-ROM (`/vms/{id}/cdroms`: one drive, oVirt's fixed id, with its `<file id>` when it
 * holds an ISO) and a storage domain's ISO files (`/storagedomains/{id}/files`, oVirt's file
 * service: id and name are the file name). `GET ...?current=true` shows the medium in the running
 * VM's drive; without it, the configured one (used at the next start), as oVirt.
 */
import { IsoFileName } from "@vela/protocol";
import { BLANK_UUID } from "@vela/protocol/ids";
import { ChangeCdrom } from "../../commands/ChangeCdrom.js";
import { runCommand } from "../../commands/command.js";
import { type IsoFile, isoFilesOf } from "../../commands/isoFiles.js";
import { mustById } from "../../db/repo/entities.js";
import type { Vm } from "../../db/schema.js";
import { badRequest, notFound } from "../../errors/fault.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { href, ref } from "../href.js";
import { collection, type Rep } from "../repr.js";

const isCurrent = (c: Call) => c.query.current === "true";

function cdromView(vm: Vm, current: boolean): Rep {
  const running = vm.status !== "down" && vm.run_on_host_id !== null;
  const [file, domain] = current && running ? [vm.cdrom_current_file, vm.cdrom_current_domain_id] : [vm.cdrom_file, vm.cdrom_domain_id];
  return {
    href: href("vms", vm.id, "cdroms", BLANK_UUID),
    id: BLANK_UUID,
    file: file ? { id: file, storage_domain: domain ? ref("storagedomains", domain) : undefined } : undefined,
    vm: ref("vms", vm.id),
  };
}

function mustCdrom(c: Call): void {
  const cd = (c.params.cd ?? "").toLowerCase();
  if (cd !== BLANK_UUID) throw notFound("CD-ROM", cd.slice(0, 80));
}

export async function vmCdroms(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  return ok("cdroms", collection("cdrom", [cdromView(vm, isCurrent(c))]));
}

export async function vmCdrom(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  mustCdrom(c);
  return ok("cdrom", cdromView(vm, isCurrent(c)));
}

export async function updateVmCdrom(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  const current = isCurrent(c);
  const vm = await runCommand(c.engine, ChangeCdrom, { vmId, cdromId: c.params.cd ?? "", body: bodyOf(c, ["cdrom"]), current });
  return ok("cdrom", cdromView(vm, current));
}

function fileView(f: IsoFile): Rep {
  return { href: href("storagedomains", f.domain.id, "files", f.name), id: f.name, name: f.name, type: "iso", storage_domain: ref("storagedomains", f.domain.id) };
}

export async function domainFiles(c: Call): Promise<Reply> {
  const sd = await mustById(c.engine, "storage_domains", pathId(c, "id", "StorageDomain"));
  return ok("files", collection("file", (await isoFilesOf(c.engine, sd)).map(fileView)));
}

export async function domainFile(c: Call): Promise<Reply> {
  const sd = await mustById(c.engine, "storage_domains", pathId(c, "id", "StorageDomain"));
  const name = c.params.file ?? "";
  if (!IsoFileName.safeParse(name).success) throw badRequest(`Invalid file id ${JSON.stringify(name.slice(0, 80))}: not a plain ISO file name`);
  const found = (await isoFilesOf(c.engine, sd)).find((f) => f.name === name);
  if (!found) throw notFound("File", name);
  return ok("file", fileView(found));
}
