/**
 * The one error type the REST layer turns into an oVirt fault (`<fault><reason/><detail/></fault>`).
 * Commands throw it for anything the client did wrong; any other error becomes a 500 whose
 * detail never leaks internals beyond the message. It sits below api/ and commands/ so both can
 * throw it while commands never import api/ (the layers point one way: api → commands → db).
 */
export class ApiFault extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 408 | 409 | 413 | 414 | 415 | 431 | 500 | 501 | 503,
    readonly reason: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${reason}: ${detail}`, options);
    this.name = "ApiFault";
  }
}

/** 400 for bad input, in oVirt's words. */
export function badRequest(detail: string): ApiFault {
  return new ApiFault(400, "Incomplete parameters", detail);
}

export function invalid(detail: string): ApiFault {
  return new ApiFault(400, "Operation Failed", detail);
}

export function notFound(what: string, key: string): ApiFault {
  return new ApiFault(404, "Operation Failed", `Entity not found: ${what}: ${key}`);
}

export function conflict(detail: string): ApiFault {
  return new ApiFault(409, "Operation Failed", detail);
}

/** A node refused or failed an operation: the engine's state was left unchanged (compensated). */
export function nodeFailed(detail: string, cause?: unknown): ApiFault {
  return new ApiFault(500, "Operation Failed", detail, { cause });
}
