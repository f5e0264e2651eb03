/**
 * /imagetransfers (oVirt's ImageTransfers): add (201, phase initializing), list, get (phase,
 * transferred bytes, transfer_url on the host, proxy_url through this engine), and the finalize,
 * cancel and extend actions. The transfer's life is transfers/lifecycle.ts.
 */
import { AddImageTransfer } from "../../commands/AddImageTransfer.js";
import { runCommand } from "../../commands/command.js";
import { notFound } from "../../errors/fault.js";
import { byId } from "../../db/repo/entities.js";
import { listTransfers, transferById } from "../../db/repo/transfers.js";
import type { Host, ImageTransfer } from "../../db/schema.js";
import type { Engine } from "../../engine.js";
import { cancelTransfer, extendTransfer, finalizeTransfer } from "../../transfers/lifecycle.js";
import { PROXY_PATH } from "../../transfers/proxy.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";
import { imageTransferView, type TransferUrls } from "../views.js";

function urls(e: Engine, c: Call, t: ImageTransfer, host: Pick<Host, "address" | "port"> | undefined): TransferUrls {
  const hostPart = host ? (host.address.includes(":") ? `[${host.address}]` : host.address) : undefined;
  return {
    transfer: hostPart ? `${e.pki ? "https" : "http"}://${hostPart}:${host?.port}/images/${t.ticket}` : undefined,
    proxy: c.origin ? `${c.origin}${PROXY_PATH}/${t.ticket}` : undefined,
  };
}

async function view(c: Call, t: ImageTransfer) {
  const host = await byId(c.engine, "hosts", t.host_id);
  return imageTransferView(t, urls(c.engine, c, t, host));
}

async function transfer(c: Call): Promise<ImageTransfer> {
  const id = pathId(c, "id", "Image Transfer");
  const t = await transferById(c.engine, id);
  if (!t) throw notFound("Image Transfer", id);
  return t;
}

export async function list(c: Call): Promise<Reply> {
  const rows = await listTransfers(c.engine);
  const found = applySearch(rows, c.query, { id: (r: ImageTransfer) => r.id, phase: (r) => r.phase, direction: (r) => r.direction });
  return ok("image_transfers", collection("image_transfer", await Promise.all(found.map((t) => view(c, t)))));
}

export async function get(c: Call): Promise<Reply> {
  return ok("image_transfer", await view(c, await transfer(c)));
}

export async function add(c: Call): Promise<Reply> {
  const t = await runCommand(c.engine, AddImageTransfer, bodyOf(c, ["image_transfer"]));
  return ok("image_transfer", await view(c, t), 201);
}

/** The action echoed as oVirt does: `<action><status>complete</status></action>`. */
function done(): Reply {
  return ok("action", { status: "complete" });
}

export async function finalize(c: Call): Promise<Reply> {
  await finalizeTransfer(c.engine, await transfer(c));
  return done();
}

export async function cancel(c: Call): Promise<Reply> {
  const t = await transfer(c);
  await cancelTransfer(c.engine, t.id, "user", "Cancelled by the user");
  return done();
}

export async function extend(c: Call): Promise<Reply> {
  await extendTransfer(c.engine, await transfer(c));
  return done();
}
