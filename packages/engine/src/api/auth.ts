/**
 * Authentication of API calls: HTTP Basic with admin@internal, and bearer tokens issued by the
 * oVirt SSO endpoint (/ovirt-engine/sso/oauth/token), which the oVirt SDKs use by default.
 * Tokens live in memory only (a restart logs clients out; they log in again). Never logs a
 * password or a token.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { EngineConfig } from "../config.js";

const TOKEN_TTL_MS = 10 * 60 * 60 * 1000;

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Auth {
  private tokens = new Map<string, { user: string; exp: number }>();

  constructor(private cfg: EngineConfig) {}

  /** `admin` and `admin@internal` both name the built-in administrator, as in oVirt. */
  checkPassword(user: string, password: string): boolean {
    const u = user === "admin" ? "admin@internal" : user;
    return same(u, this.cfg.adminUser) && same(password, this.cfg.adminPassword);
  }

  /** Returns the authenticated user, or undefined. */
  check(authorization: string | undefined): string | undefined {
    if (!authorization) return undefined;
    const [scheme, value] = authorization.split(/\s+/, 2);
    if (!scheme || !value) return undefined;
    if (scheme.toLowerCase() === "basic") {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      if (i < 0) return undefined;
      const user = decoded.slice(0, i);
      return this.checkPassword(user, decoded.slice(i + 1)) ? this.cfg.adminUser : undefined;
    }
    if (scheme.toLowerCase() === "bearer") {
      const t = this.tokens.get(value);
      if (!t) return undefined;
      if (t.exp < Date.now()) {
        this.tokens.delete(value);
        return undefined;
      }
      return t.user;
    }
    return undefined;
  }

  issue(user: string): { token: string; exp: number } {
    const token = randomBytes(32).toString("base64url");
    const exp = Date.now() + TOKEN_TTL_MS;
    this.tokens.set(token, { user, exp });
    return { token, exp };
  }

  revoke(token: string): void {
    this.tokens.delete(token);
  }
}
