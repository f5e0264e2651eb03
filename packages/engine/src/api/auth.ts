/**
 * Authentication of API calls: HTTP Basic with user@internal (admin@internal's password is the
 * engine's configuration, everyone else's an scrypt hash in the users table), and bearer tokens
 * issued by the oVirt SSO endpoint (/ovirt-engine/sso/oauth/token), which the oVirt SDKs use by
 * default. Tokens live in memory only (a restart logs clients out; they log in again); a token
 * stops working when revoked (logout) or when its user is removed. A login that fails too often
 * is refused for a while. Never logs a password or a token.
 *
 * name@profile of the configured LDAP directory signs in against the directory (users/directory.ts):
 * its wrong passwords count toward the same lockout; a directory that cannot answer throws
 * DirectoryUnavailable (a fault for that request) and never touches internal sign-ins.
 *
 * As in oVirt, the right password is not enough to start a session (a Basic request, an SSO
 * token): the user, or a group of theirs, must hold a permission somewhere (every role holds the
 * `login` permit). admin@internal always may. Tokens already issued live on, as oVirt's sessions do.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { EngineConfig } from "../config.js";
import type { Db } from "../db/index.js";
import { ADMIN_USER_ID } from "../db/ids.js";
import { ApiFault } from "../errors/fault.js";
import { type Principal, userNameOf } from "../permissions/access.js";
import type { Directory } from "../users/directory.js";
import { signIn } from "../users/directory-users.js";
import { findUser, NotAuthorizedToLogIn, passwordMatches, principalOf, userById } from "../users/store.js";

const TOKEN_TTL_MS = 10 * 60 * 60 * 1000;
/** Basic credentials verified against a hash are remembered (keyed by hash and password) so a client does not pay scrypt per request. */
const VERIFIED_TTL_MS = 60_000;
/** After this many failures in a row a login is refused for LOCK_MS, even with the right password. */
const MAX_FAILURES = 10;
const LOCK_MS = 60_000;

/** The API's fault for such a sign-in: authenticated, but refused. */
export function notAuthorizedFault(err: NotAuthorizedToLogIn): ApiFault {
  return new ApiFault(403, "Forbidden", `[${err.code}] ${err.user}: ${err.message}`);
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Auth {
  private tokens = new Map<string, { userId: string; exp: number }>();
  private verified = new Map<string, number>();
  private remembered = new Map<string, { userId: string; until: number }>();
  private failures = new Map<string, { n: number; until: number }>();

  constructor(
    private cfg: EngineConfig,
    private db: Db,
    private directory: Directory | undefined,
    /** Does the user (or a group of theirs) hold any permission: may they start a session? */
    private mayLogIn: (who: Principal) => Promise<boolean>,
  ) {}

  /**
   * The user these credentials name, or undefined. `admin` and `admin@internal` both name the
   * built-in administrator, as in oVirt. Throws NotAuthorizedToLogIn for the right password of a
   * user who holds no permission.
   */
  async login(login: string, password: string): Promise<Principal | undefined> {
    const who = await this.verifyAny(login, password);
    if (who && who.id !== ADMIN_USER_ID && !(await this.mayLogIn(who))) throw new NotAuthorizedToLogIn(userNameOf(who));
    return who;
  }

  private async verifyAny(login: string, password: string): Promise<Principal | undefined> {
    const at = login.lastIndexOf("@");
    const dir = this.directory;
    if (dir && at > 0 && login.slice(at + 1) === dir.name) {
      // The directory matches names ignoring case and extra spaces (uid is caseIgnoreMatch): so
      // does the lockout, or `Dave` and ` dave` would each get ten more tries at dave's password.
      const key = login.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
      return this.counted(key.replace(/ ?@/, "@"), () => this.verifyDirectory(dir, login.slice(0, at), password));
    }
    const name = principalOf(login);
    if (!name) return undefined;
    return this.counted(name, () => this.verify(name, password));
  }

  /**
   * Runs one verification unless `key` is locked out; a wrong password (verify answering
   * undefined) counts a failure, a right one clears them. A thrown error (directory down) counts nothing.
   */
  private async counted(key: string, verify: () => Promise<Principal | "refused" | undefined>): Promise<Principal | undefined> {
    const f = this.failures.get(key);
    if (f && f.n >= MAX_FAILURES && f.until > Date.now()) return undefined;
    const who = await verify();
    if (who) this.failures.delete(key);
    else {
      const n = (f && f.until > Date.now() ? f.n : 0) + 1;
      // bounded memory: names that never signed in are forgotten in bulk rather than kept forever
      if (this.failures.size > 100_000) this.failures.clear();
      this.failures.set(key, { n, until: Date.now() + LOCK_MS });
    }
    return who === "refused" ? undefined : who;
  }

  /**
   * A directory sign-in: the directory checks the password (remembered for VERIFIED_TTL_MS, as
   * for internal users, so Basic clients do not bind per request), then the engine checks that
   * the user or a group of theirs was added ("refused": right password, no access).
   */
  private async verifyDirectory(dir: Directory, name: string, password: string): Promise<Principal | "refused" | undefined> {
    const k = createHash("sha256").update(`ldap\0${dir.name}\0${name}\0`).update(password).digest("base64");
    const hit = this.remembered.get(k);
    if (hit && hit.until > Date.now()) {
      const u = await userById(this.db, hit.userId);
      if (u) return { id: u.id, name: u.name };
    }
    const found = await dir.authenticate(name, password);
    if (!found) return undefined;
    const who = await signIn(this.db, dir.name, found.user, found.groups);
    if (!who) return "refused";
    if (this.remembered.size > 10_000) this.remembered.clear();
    this.remembered.set(k, { userId: who.id, until: Date.now() + VERIFIED_TTL_MS });
    return who;
  }

  private async verify(name: string, password: string): Promise<Principal | undefined> {
    if (name === "admin") return same(password, this.cfg.adminPassword) ? { id: ADMIN_USER_ID, name } : undefined;
    const u = await findUser(this.db, name);
    if (!u || u.password_hash === null) return undefined;
    const k = createHash("sha256").update(u.password_hash).update("\0").update(password).digest("base64");
    const until = this.verified.get(k);
    if (until && until > Date.now()) return { id: u.id, name: u.name };
    if (!(await passwordMatches(u, password))) return undefined;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(k, Date.now() + VERIFIED_TTL_MS);
    return { id: u.id, name: u.name };
  }

  /** Returns the authenticated user, or undefined. */
  async check(authorization: string | undefined): Promise<Principal | undefined> {
    if (!authorization) return undefined;
    const [scheme, value] = authorization.split(/\s+/, 2);
    if (!scheme || !value) return undefined;
    if (scheme.toLowerCase() === "basic") {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      if (i < 0) return undefined;
      return this.login(decoded.slice(0, i), decoded.slice(i + 1));
    }
    if (scheme.toLowerCase() === "bearer") {
      const t = this.tokens.get(value);
      if (!t) return undefined;
      if (t.exp < Date.now()) {
        this.tokens.delete(value);
        return undefined;
      }
      // a removed user's tokens die with the user
      const u = await userById(this.db, t.userId);
      if (!u) {
        this.tokens.delete(value);
        return undefined;
      }
      return { id: u.id, name: u.name };
    }
    return undefined;
  }

  issue(user: Principal): { token: string; exp: number } {
    const token = randomBytes(32).toString("base64url");
    const exp = Date.now() + TOKEN_TTL_MS;
    this.tokens.set(token, { userId: user.id, exp });
    return { token, exp };
  }

  revoke(token: string): void {
    this.tokens.delete(token);
  }
}
