/**
 * XML-RPC transport at /RPC2 (and /), VDSM's original API: flat verb names, positional
 * parameters, results as `{status: {code, message}, ...}`. Unknown methods and unparsable bodies
 * are XML-RPC faults (the protocol's own error shape); verb failures are statuses.
 */
import { byXmlName, ErrorCodes, type Handlers, parsePositional } from "@vela/protocol";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../log.js";
import { dispatch } from "./dispatch.js";
import { encodeFault, encodeResponse, type MethodCall, parseMethodCall, XmlRpcParseError } from "./xmlrpc-codec.js";

export function registerXmlRpc(app: FastifyInstance, handlers: Handlers, log: Logger): void {
  const handle = async (body: unknown): Promise<string> => {
    let call: MethodCall;
    try {
      call = parseMethodCall(typeof body === "string" ? body : "");
    } catch (err) {
      const msg = err instanceof XmlRpcParseError ? err.message : String(err);
      return encodeFault(ErrorCodes.InvalidParameter.code, `cannot parse request: ${msg}`);
    }
    const entry = byXmlName.get(call.method);
    if (!entry) return encodeFault(ErrorCodes.methodNotFound.code, `method "${call.method}" is not supported`);
    const [name, def] = entry;
    const resp = await dispatch(handlers, name, def, () => parsePositional(def, call.params), log);
    return encodeResponse(resp);
  };
  for (const url of ["/RPC2", "/"]) {
    app.post(url, async (req, reply) => {
      reply.type("text/xml");
      return handle(req.body);
    });
  }
}
