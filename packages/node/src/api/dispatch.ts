/**
 * Runs one verb for either transport: validates the raw arguments against the verb table, calls
 * the handler, and shapes the answer as VDSM did: `{status: {code, message}, ...members}`.
 * Every failure becomes a status with a stable code; nothing escapes as a crash.
 */
import { DONE, type Handlers, type Status, type VerbDef, type VerbName, VdsmError } from "@vela/protocol";
import type { Logger } from "../log.js";

export type Response = { status: Status } & Record<string, unknown>;

export async function dispatch(
  handlers: Handlers,
  name: VerbName,
  def: VerbDef,
  parse: () => Record<string, unknown>,
  log: Logger,
): Promise<Response> {
  const started = performance.now();
  try {
    const params = parse();
    const fn = handlers[name] as (p: Record<string, unknown>) => Promise<Record<string, unknown>>;
    const result = await fn(params);
    log.debug({ verb: def.xml, ms: +(performance.now() - started).toFixed(1) }, "verb done");
    return { ...result, status: DONE };
  } catch (err) {
    if (err instanceof VdsmError) {
      log.info({ verb: def.xml, code: err.code, err: err.message }, "verb failed");
      return { status: err.status };
    }
    log.error({ verb: def.xml, err }, "verb crashed");
    const e = new VdsmError("GeneralException", (err as Error)?.message ?? String(err));
    return { status: e.status };
  }
}
