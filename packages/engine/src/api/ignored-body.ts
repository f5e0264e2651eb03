/**
 * Bodies the API ignores. libgovirt sends `<action></action>` with every GET, and when libsoup
 * repeats a request after a 401 it repeats `Content-Length: 17` but not the body. Waiting for that
 * body hangs; answering and keeping the connection made Node read the next request's first 17
 * bytes as the body and answer the rest 400 "malformed HTTP request". So an answer to a request
 * whose body is not read (GET/HEAD, or refused before parsing) closes the connection: the client
 * opens a new one, nothing stray is ever parsed as a request, and nothing waits for bytes that
 * never come.
 *
 * Closed at once with the body's bytes still unread, a TCP connection is reset, not closed: the
 * kernel sends RST and drops whatever of the answer it had not yet sent, and the client reads
 * ECONNRESET instead of the answer (a 2 MB body on a GET of a large document did it every time).
 * So such a connection is closed the lingering way HTTP servers close: the answer, then our half
 * of the connection, then the client's bytes are read and dropped until it closes its half or a
 * short time has passed.
 */
import type { Socket } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";

/** How long a closing connection keeps reading what the client still sends. */
const LINGER_MS = 2000;

/** Does the request announce a body (a non-zero length, or chunks)? */
export function hasBody(req: FastifyRequest): boolean {
  const len = req.headers["content-length"];
  if (req.headers["transfer-encoding"] !== undefined) return true;
  return len !== undefined && len.trim() !== "0";
}

/** The body will not be read: answer with `Connection: close`. */
export function closeIfBodyUnread(req: FastifyRequest, reply: FastifyReply): void {
  if (!hasBody(req) || req.raw.readableEnded) return;
  reply.header("connection", "close");
  lingerOnClose(req.raw.socket);
}

/**
 * Node's server ends a `Connection: close` exchange with `socket.destroySoon()`: that one call is
 * replaced for this socket by a lingering close.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once("close", () => clearTimeout(timer));
    // The server's parser still reads the socket and drops the rest of the unread body.
    socket.resume();
  };
}
