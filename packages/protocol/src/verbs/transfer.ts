/**
 * Image transfer verbs (Vela's form of VDSM's image tickets for ovirt-imageio): the engine opens a
 * ticket for one volume and one direction, the node serves the ticket's data over HTTP at
 * `/images/{ticket}` (PUT/GET/PATCH/OPTIONS, imageio's protocol subset) into or out of a staging
 * file, and the engine closes it: an upload is checked with qemu-img and only then written into
 * the volume (finishImageUpload), a download's staging copy is dropped (removeImageTicket).
 */
import { z } from "zod";
import { Uuid } from "../schemas.js";
import { done, out, p, verb } from "../verb.js";
import { DomainId, ImageId, Int, PoolId, VolumeId } from "./common.js";

/** Seconds without a request after which a ticket refuses further ones: 1 s .. 1 day. */
export const TicketTimeout = Int.refine((n) => n >= 1 && n <= 86_400, { message: "timeout out of range (1..86400 s)" });

/** A ticket as the node reports it. */
export const ImageTicketInfo = z.looseObject({
  /** Bytes the data path moved so far (written for uploads, read for downloads). */
  transferred: z.number().int().min(0),
  /** Largest byte count the ticket allows (upload) or the staging copy's size (download). */
  size: z.number().int().min(0),
  /** Seconds since the last request ended (0 while one runs). */
  idle: z.number().min(0),
  /** The ticket went unused for longer than its timeout: its requests are refused. */
  expired: z.boolean(),
  /** Requests running now. */
  active: z.number().int().min(0),
});
export type ImageTicketInfo = z.infer<typeof ImageTicketInfo>;

const Ticket = p("ticket", Uuid, "ticketID");

export const transferVerbs = {
  addImageTicket: verb(
    "addImageTicket",
    "Image.addTicket",
    [
      Ticket,
      p("sdUUID", DomainId, "storagedomainID"),
      p("spUUID", PoolId, "storagepoolID"),
      p("imgUUID", ImageId, "imageID"),
      p("volUUID", VolumeId, "volumeID"),
      p("direction", z.enum(["upload", "download"]), "direction"),
      p("format", z.enum(["qcow2", "raw"]), "format"),
      p("timeout", TicketTimeout, "timeout"),
    ],
    out("ticket", ImageTicketInfo),
  ),
  getImageTicket: verb("getImageTicket", "Image.getTicket", [Ticket], out("ticket", ImageTicketInfo)),
  extendImageTicket: verb("extendImageTicket", "Image.extendTicket", [Ticket, p("timeout", TicketTimeout, "timeout")], done),
  removeImageTicket: verb("removeImageTicket", "Image.removeTicket", [Ticket], done),
  finishImageUpload: verb("finishImageUpload", "Image.finishUpload", [Ticket], done),
} as const;
