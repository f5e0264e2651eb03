/**
 * Bodies the API ignores. libgovirt sends `<action></action>` with every GET, and when libsoup
 * repeats a request after a 401 it repeats `Content-Length: 17` but not the body. Waiting for that
 * body hangs; answering and keeping the connection made Node read the next request's first 17
 * bytes as the body and answer the rest 400 "malformed HTTP request". So an answer to a request
 * whose body is not read (GET/HEAD, or refused before parsing) closes the connection: the client
 * opens a new one, nothing stray is ever parsed as a request, and nothing waits for bytes that
 * never come.
 */
import type { FastifyReply, FastifyRequest } from "fastify";

/** Does the request announce a body (a non-zero length, or chunks)? */
export function hasBody(req: FastifyRequest): boolean {
  const len = req.headers["content-length"];
  if (req.headers["transfer-encoding"] !== undefined) return true;
  return len !== undefined && len.trim() !== "0";
}

/** The body will not be read: answer with `Connection: close`. */
export function closeIfBodyUnread(req: FastifyRequest, reply: FastifyReply): void {
  if (hasBody(req) && !req.raw.readableEnded) reply.header("connection", "close");
}
