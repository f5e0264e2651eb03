/**
 * Console proxy tickets: what lets a browser (noVNC) or any WebSocket client through the engine's
 * console proxy to one VM's console. A ticket is `base64url(payload).base64url(HMAC-SHA256)`
 * under an engine secret kept in the data directory (so tickets survive an engine restart within
 * their life); the payload binds the VM, the console kind, the user and an expiry, and carries a
 * nonce that the proxy accepts once. Tickets are bearer secrets: never logged.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type ConsoleKind = "vnc" | "serial";

export interface TicketClaims {
  vm: string;
  kind: ConsoleKind;
  user: string;
  /** Expiry, ms since the epoch. */
  exp: number;
  nonce: string;
}

/** Why a ticket was refused (stable codes; the proxy logs these, never the ticket). */
export type TicketRefusal = "malformed" | "bad-signature" | "expired" | "wrong-vm" | "wrong-console" | "replayed" | "unknown-user";

export class TicketError extends Error {
  constructor(readonly code: TicketRefusal) {
    super(`console ticket refused: ${code}`);
    this.name = "TicketError";
  }
}

const SECRET_FILE = "console-secret";

/** The signing secret: read from the data directory, made (0600) on first use. */
export function loadSecret(home: string): Buffer {
  const file = join(home, SECRET_FILE);
  if (existsSync(file)) {
    const s = Buffer.from(readFileSync(file, "utf8").trim(), "base64url");
    if (s.length >= 32) return s;
  }
  const secret = randomBytes(32);
  writeFileSync(file, `${secret.toString("base64url")}\n`, { mode: 0o600 });
  return secret;
}

export class ConsoleTickets {
  /** Nonces already used, until their ticket would have expired anyway. */
  private used = new Map<string, number>();

  constructor(
    private readonly secret: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  private mac(payload: string): Buffer {
    return createHmac("sha256", this.secret).update(payload).digest();
  }

  issue(claims: Omit<TicketClaims, "nonce" | "exp">, ttlSec: number): { ticket: string; claims: TicketClaims } {
    const full: TicketClaims = { ...claims, exp: this.now() + ttlSec * 1000, nonce: randomBytes(16).toString("base64url") };
    const payload = Buffer.from(JSON.stringify(full)).toString("base64url");
    return { ticket: `${payload}.${this.mac(payload).toString("base64url")}`, claims: full };
  }

  /** Checks a ticket for `vm` and `kind` and uses it up; throws TicketError otherwise. */
  redeem(ticket: string, vm: string, kind: ConsoleKind, knownUser: (u: string) => boolean): TicketClaims {
    const m = /^([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})$/.exec(ticket);
    if (!m) throw new TicketError("malformed");
    const [, payload, sig] = m as unknown as [string, string, string];
    const want = this.mac(payload);
    const got = Buffer.from(sig, "base64url");
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new TicketError("bad-signature");
    let c: TicketClaims;
    try {
      c = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TicketClaims;
    } catch {
      throw new TicketError("malformed");
    }
    if (typeof c.exp !== "number" || typeof c.nonce !== "string" || typeof c.vm !== "string") throw new TicketError("malformed");
    const t = this.now();
    this.prune(t);
    if (c.exp <= t) throw new TicketError("expired");
    if (c.vm !== vm) throw new TicketError("wrong-vm");
    if (c.kind !== kind) throw new TicketError("wrong-console");
    if (!knownUser(c.user)) throw new TicketError("unknown-user");
    if (this.used.has(c.nonce)) throw new TicketError("replayed");
    this.used.set(c.nonce, c.exp);
    return c;
  }

  private prune(t: number): void {
    for (const [n, exp] of this.used) if (exp <= t) this.used.delete(n);
  }
}
