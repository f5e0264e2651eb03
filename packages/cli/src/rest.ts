/**
 * A small client of the engine's REST API (JSON), for the CLI and the tests. Over HTTPS it trusts
 * the engine CA it is given (`vela up` reads it from the engine's READY line).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

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
    /** The engine CA (PEM) for an https base; default: the system's trust store. */
    private readonly ca?: string,
  ) {
    this.auth = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body !== undefined ? JSON.stringify(body) : undefined;
    const headers: Record<string, string | number> = { authorization: this.auth, accept: "application/json" };
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(payload);
    }
    const { status, text } = await this.send(new URL(`${this.base}/ovirt-engine/api${path}`), method, headers, payload);
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      /* keep text */
    }
    if (status < 200 || status >= 300) throw new RestError(status, parsed);
    return parsed as T;
  }

  private send(url: URL, method: string, headers: Record<string, string | number>, payload?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const onRes = (res: import("node:http").IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      };
      const opts = { method, headers, timeout: 120_000 };
      const req = url.protocol === "https:" ? httpsRequest(url, { ...opts, ...(this.ca ? { ca: this.ca } : {}) }, onRes) : httpRequest(url, opts, onRes);
      req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname}: no answer in 120 s`)));
      req.on("error", reject);
      req.end(payload);
    });
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
