/** A small client of the engine's REST API (JSON), for the CLI and the tests. */

export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}: ${JSON.stringify(body).slice(0, 500)}`);
  }
}

export class Rest {
  private readonly auth: string;
  constructor(
    readonly base: string,
    user: string,
    password: string,
  ) {
    this.auth = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}/ovirt-engine/api${path}`, {
      method,
      headers: {
        authorization: this.auth,
        accept: "application/json",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      /* keep text */
    }
    if (!res.ok) throw new RestError(res.status, parsed);
    return parsed as T;
  }

  get<T = Record<string, unknown>>(path: string) {
    return this.call<T>("GET", path);
  }
  post<T = Record<string, unknown>>(path: string, body: unknown) {
    return this.call<T>("POST", path, body);
  }
  del<T = Record<string, unknown>>(path: string) {
    return this.call<T>("DELETE", path);
  }

  /** Polls `fn` until it returns a value other than undefined. */
  static async until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, stepMs = 200): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (err) {
        lastErr = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}

/** oVirt JSON lists: `{"vm": [...]}` (or `{}` when empty). */
export function list<T>(body: Record<string, unknown>, key: string): T[] {
  const v = body[key];
  return Array.isArray(v) ? (v as T[]) : [];
}
