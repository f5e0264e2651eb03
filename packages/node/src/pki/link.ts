/**
 * The node's requests to the engine (registration, enrollment): JSON over HTTPS, trusting only
 * the engine CA once the node has it. The one unverified request is the CA fetch of enrollment,
 * whose answer the node checks with the registration token before it trusts it (enroll.ts).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface EngineAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/**
 * How to trust the engine: its CA (PEM), or — only for the token-checked CA fetch — nothing.
 * `client`: the node's own certificate, presented so the engine knows which host calls
 * (re-registration of an approved host needs it).
 */
export type Trust = { ca: string; client?: { key: string; cert: string } } | { unverified: true };

const MAX_ANSWER = 1024 * 1024;

export function engineRequest(url: URL, method: "GET" | "POST", trust: Trust, body?: unknown, timeoutMs = 10_000): Promise<EngineAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string | number> = { accept: "application/json" };
  if (payload !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const opts = { method, headers, timeout: timeoutMs };
    const onRes = (res: import("node:http").IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER) req.destroy(new Error("engine answer larger than 1 MiB"));
        else chunks.push(c);
      });
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: Record<string, unknown> = {};
        try {
          const v = JSON.parse(text) as unknown;
          if (v && typeof v === "object") parsed = v as Record<string, unknown>;
        } catch {
          /* not JSON: the caller says so with the text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
      res.on("error", reject);
    };
    const req =
      url.protocol === "https:"
        ? httpsRequest(url, { ...opts, minVersion: "TLSv1.2", ...("ca" in trust ? { ca: trust.ca, ...(trust.client ?? {}) } : { rejectUnauthorized: false }) }, onRes)
        : httpRequest(url, opts, onRes);
    req.on("timeout", () => req.destroy(new Error(`the engine did not answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}
