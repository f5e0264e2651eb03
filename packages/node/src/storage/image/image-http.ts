/**
 * The data path of image transfers at `/images/{ticket}`: the subset of ovirt-imageio's HTTP
 * protocol the oVirt SDK's upload/download examples and the portal use — OPTIONS (features),
 * PUT with Content-Range (write at an offset), GET with Range (read), PATCH with a JSON op (zero,
 * flush), GET `/extents?context=zero` (where the data reads as zeros). The ticket in the path authorises the request (transfer.ts); bodies stream straight to
 * and from the staging file, never buffered whole. Errors are plain text with imageio's statuses
 * (403 no such ticket, 416 range outside the image, 400 bad request).
 */
import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../../log.js";
import type { ImageTransfers, Ticket } from "./transfer.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Chunks are gathered up to this many bytes before one positional write. */
const WRITE_BATCH = 4 * 2 ** 20;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * OPTIONS' answer as imageio gives it: features (flattened by clients into options), how many
 * connections may work at once (positional I/O on one file: several are safe), and for guest
 * data (raw) the transfer format and virtual size, which spares clients probing the size.
 */
function options(t: Ticket): Record<string, unknown> {
  const upload = t.direction === "upload";
  return {
    features: upload ? ["extents", "zero", "flush"] : ["extents"],
    max_readers: 4,
    max_writers: upload ? 4 : 0,
    ...(t.format === "raw" ? { transfer_format: "raw", virtual_size: t.size } : {}),
  };
}

/** `bytes=a-b` (b optional) → [start, end] inclusive, clipped to the image. */
export function parseRange(header: string, size: number): [number, number] {
  const m = /^bytes=(\d{1,16})-(\d{0,16})$/.exec(header.trim());
  if (!m) throw new HttpError(400, `unsupported Range header: ${header.slice(0, 80)}`);
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) throw new HttpError(416, `requested range ${start}-${m[2]} is outside the image (${size} bytes)`);
  return [start, end];
}

/** `bytes a-b/total` or `bytes a-b/*` → [start, end] inclusive. */
export function parseContentRange(header: string): [number, number] {
  const m = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/.exec(header.trim());
  if (!m) throw new HttpError(400, `unsupported Content-Range header: ${header.slice(0, 80)}`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new HttpError(400, `Content-Range ${start}-${end} ends before it starts`);
  return [start, end];
}

function ticketOf(transfers: ImageTransfers, req: FastifyRequest, op: "read" | "write"): Ticket {
  const id = (req.params as { ticket?: string }).ticket ?? "";
  const t = UUID.test(id) ? transfers.usable(id, op) : undefined;
  // One answer for unknown, expired and wrong-direction tickets: nothing to learn by probing.
  if (!t) throw new HttpError(403, `You are not allowed to ${op} this image: no such ticket, or it expired`);
  return t;
}

async function writeBody(t: Ticket, transfers: ImageTransfers, body: IncomingMessage, offset: number, length: number): Promise<void> {
  const fh = await transfers.handle(t);
  let pos = offset;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flushPending = async () => {
    if (pendingBytes === 0) return;
    const bufs = pending;
    const n = pendingBytes;
    pending = [];
    pendingBytes = 0;
    await fh.writev(bufs, pos);
    pos += n;
    t.transferred += n;
  };
  let received = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > length) throw new HttpError(400, `body longer than its Content-Length (${length})`);
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= WRITE_BATCH) await flushPending();
  }
  await flushPending();
  if (received !== length) throw new HttpError(400, `body ended after ${received} of ${length} bytes`);
}

const PatchOp = (v: unknown): { op: "zero"; offset: number; size: number; flush: boolean } | { op: "flush" } => {
  const o = v as { op?: unknown; offset?: unknown; size?: unknown; flush?: unknown };
  if (!o || typeof o !== "object") throw new HttpError(400, "PATCH body must be a JSON object");
  if (o.op === "flush") return { op: "flush" };
  if (o.op !== "zero") throw new HttpError(400, `unsupported PATCH op ${JSON.stringify(o.op)?.slice(0, 40)}`);
  const offset = o.offset ?? 0;
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new HttpError(400, "zero: offset must be a non-negative integer");
  if (!Number.isSafeInteger(o.size) || (o.size as number) < 0) throw new HttpError(400, "zero: size must be a non-negative integer");
  return { op: "zero", offset: offset as number, size: o.size as number, flush: o.flush === true };
};

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  let text = "";
  for await (const chunk of req as AsyncIterable<Buffer>) {
    text += chunk.toString("utf8");
    if (text.length > limit) throw new HttpError(413, "PATCH body too large");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, "PATCH body is not JSON");
  }
}

function fail(reply: FastifyReply, log: Logger, err: unknown): FastifyReply {
  if (err instanceof HttpError) return reply.code(err.status).type("text/plain").header("connection", "close").send(err.message);
  log.error({ err }, "image transfer request failed");
  return reply.code(500).type("text/plain").header("connection", "close").send(`image I/O failed: ${(err as Error).message}`);
}

/** Registers `/images/:ticket` in its own scope: bodies reach the handlers as raw streams. */
export function registerImageHttp(app: FastifyInstance, transfers: ImageTransfers, log: Logger): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Leave the body unread: the handlers stream it (no body limit, no buffering).
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null, undefined));

    scope.options("/images/:ticket", async (req, reply) => {
      try {
        const id = (req.params as { ticket: string }).ticket;
        const t = transfers.usable(id, "write") ?? transfers.usable(id, "read");
        if (!t) throw new HttpError(403, "You are not allowed to access this image: no such ticket, or it expired");
        const upload = t.direction === "upload";
        return reply
          .header("allow", upload ? "OPTIONS,GET,PUT,PATCH" : "OPTIONS,GET")
          .type("application/json")
          .send(JSON.stringify(options(t)));
      } catch (err) {
        return fail(reply, log, err);
      }
    });

    // Zero extents (both directions): lets a client skip holes and learn the size without a GET.
    scope.get("/images/:ticket/extents", async (req, reply) => {
      try {
        const id = (req.params as { ticket: string }).ticket;
        const t = UUID.test(id) ? (transfers.usable(id, "write") ?? transfers.usable(id, "read")) : undefined;
        if (!t) throw new HttpError(403, "You are not allowed to access this image: no such ticket, or it expired");
        const context = (req.query as { context?: unknown }).context ?? "zero";
        if (context === "dirty") throw new HttpError(404, "dirty extents are not available: this transfer is not part of an incremental backup");
        if (context !== "zero") throw new HttpError(400, `unsupported extents context ${JSON.stringify(context).slice(0, 40)}`);
        const end = transfers.begin(t);
        try {
          return reply.type("application/json").send(JSON.stringify(await transfers.extents(t)));
        } finally {
          end();
        }
      } catch (err) {
        return fail(reply, log, err);
      }
    });

    scope.put("/images/:ticket", async (req, reply) => {
      let end: (() => void) | undefined;
      try {
        const t = ticketOf(transfers, req, "write");
        const length = Number(req.headers["content-length"] ?? NaN);
        if (!Number.isSafeInteger(length) || length < 0) throw new HttpError(411, "PUT needs a Content-Length");
        let offset = 0;
        const cr = req.headers["content-range"];
        if (cr !== undefined) {
          const [start, last] = parseContentRange(cr);
          if (last - start + 1 !== length) throw new HttpError(400, `Content-Range covers ${last - start + 1} bytes, the body has ${length}`);
          offset = start;
        }
        if (offset + length > t.size) throw new HttpError(416, `write of ${length} bytes at ${offset} goes past the image's end (${t.size} bytes)`);
        end = transfers.begin(t);
        await writeBody(t, transfers, req.raw, offset, length);
        const flush = (req.query as { flush?: string }).flush;
        if (flush !== "n") await (await transfers.handle(t)).datasync();
        return reply.code(200).send();
      } catch (err) {
        return fail(reply, log, err);
      } finally {
        end?.();
      }
    });

    scope.patch("/images/:ticket", async (req, reply) => {
      let end: (() => void) | undefined;
      try {
        const t = ticketOf(transfers, req, "write");
        const op = PatchOp(await readJson(req.raw, 4096));
        end = transfers.begin(t);
        if (op.op === "zero") {
          if (op.offset + op.size > t.size) throw new HttpError(416, `zero of ${op.size} bytes at ${op.offset} goes past the image's end (${t.size} bytes)`);
          await transfers.zero(t, op.offset, op.size);
          if (op.flush) await (await transfers.handle(t)).datasync();
        } else {
          await (await transfers.handle(t)).datasync();
        }
        return reply.code(200).send();
      } catch (err) {
        return fail(reply, log, err);
      } finally {
        end?.();
      }
    });

    scope.get("/images/:ticket", async (req, reply) => {
      try {
        const t = ticketOf(transfers, req, "read");
        const range = req.headers.range;
        const [start, last] = range !== undefined ? parseRange(range, t.size) : [0, t.size - 1];
        const fh = await transfers.handle(t);
        const end = transfers.begin(t);
        const stream = fh.createReadStream({ start, end: last, autoClose: false });
        stream.on("data", (c: Buffer | string) => {
          t.transferred += c.length;
        });
        stream.once("close", end);
        reply.header("content-length", String(Math.max(0, last - start + 1))).type("application/octet-stream");
        if (range !== undefined) reply.code(206).header("content-range", `bytes ${start}-${last}/${t.size}`);
        return reply.send(stream);
      } catch (err) {
        return fail(reply, log, err);
      }
    });
  });
}
