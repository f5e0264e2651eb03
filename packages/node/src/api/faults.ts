/**
 * The node's answers to requests that never reach a verb (wrong HTTP method or path, oversized or
 * unreadable bodies, requests the HTTP parser refuses): in the protocol the path speaks, an
 * XML-RPC fault for /RPC2 and /, a JSON-RPC error for /jsonrpc, never a framework default body.
 */
import type { Socket } from "node:net";
import { ErrorCodes } from "@vela/protocol/errors";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../log.js";
import { INVALID_REQUEST } from "./json.js";
import { encodeFault } from "./xmlrpc-codec.js";

function isJsonRpc(url: string): boolean {
  return url === "/jsonrpc" || url.startsWith("/jsonrpc?") || url.startsWith("/jsonrpc/");
}

export function sendProtocolFault(req: FastifyRequest, reply: FastifyReply, httpStatus: number, code: number, message: string): FastifyReply {
  if (isJsonRpc(req.url)) {
    return reply.code(httpStatus).type("application/json").send(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: code === ErrorCodes.InvalidParameter.code ? INVALID_REQUEST : code, message } }));
  }
  return reply.code(httpStatus).type("text/xml").send(encodeFault(code, message));
}

/** The HTTP parser refused the request: no path is known, so an XML-RPC fault, VDSM's first protocol. */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, text] = err.code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large"] : [400, "Bad Request"];
  const body = encodeFault(ErrorCodes.InvalidParameter.code, `malformed HTTP request: ${text}`);
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Options for Fastify(): router and HTTP-parser errors in the protocol's shape. */
export const faultOptions = {
  frameworkErrors: (err: { message?: string }, req: FastifyRequest, reply: FastifyReply) =>
    sendProtocolFault(req, reply, 400, ErrorCodes.InvalidParameter.code, `bad request: ${err.message ?? "unreadable URL"}`),
  clientErrorHandler: clientError,
};

/** Error and not-found handlers: every answer a fault of the path's protocol. */
export function registerFaults(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: { statusCode?: number; code?: string; message?: string }, req, reply) => {
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return sendProtocolFault(req, reply, 413, ErrorCodes.InvalidParameter.code, "request body too large");
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err, url: req.url }, "request failed");
    return sendProtocolFault(req, reply, status, status === 500 ? ErrorCodes.GeneralException.code : ErrorCodes.InvalidParameter.code, err.message ?? "bad request");
  });
  app.setNotFoundHandler((req, reply) => {
    const known = ["/RPC2", "/", "/jsonrpc"].includes(req.url.split("?")[0] ?? "");
    const what = known ? `${req.method} is not supported here: POST a call` : `no endpoint at ${req.url.split("?")[0]?.slice(0, 100)}`;
    return sendProtocolFault(req, reply, known ? 405 : 404, ErrorCodes.methodNotFound.code, what);
  });
}
