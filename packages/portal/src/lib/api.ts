/**
 * The portal's one door to the engine: SSO sign-in and sign-out, and JSON calls to
 * /ovirt-engine/api with the bearer token. URLs are relative to the page's origin, so the portal
 * works over HTTP and HTTPS alike. Every refusal becomes an ApiError carrying the API's fault
 * reason and detail. The token lives in sessionStorage (gone with the tab), never in the URL or a log.
 */

import { readMembers } from "./list-stream";

export const API = "/ovirt-engine/api";
const TOKEN_KEY = "vela.token";
const USER_KEY = "vela.user";

/** A refusal from the engine: the HTTP status and the fault's reason and detail. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly detail: string,
  ) {
    super(detail && detail !== reason ? `${reason}: ${detail}` : reason);
  }
}

export interface Session {
  user: string;
  token: string;
}

/** `expired`: the engine refused the token (not a sign-out). */
type Listener = (s: Session | undefined, expired: boolean) => void;
const listeners = new Set<Listener>();

export function currentSession(): Session | undefined {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const user = sessionStorage.getItem(USER_KEY);
  return token && user ? { token, user } : undefined;
}

function setSession(s: Session | undefined, expired = false): void {
  early.clear(); // answers asked for with another session's token are not this one's
  if (s) {
    sessionStorage.setItem(TOKEN_KEY, s.token);
    sessionStorage.setItem(USER_KEY, s.user);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  }
  for (const l of listeners) l(s, expired);
}

/** The engine no longer accepts the token (told by the live stream): back to sign-in. */
export function expireSession(): void {
  setSession(undefined, true);
}

/** Called when the user signs in or out, or the engine no longer accepts the token. */
export function onSession(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** Exchanges a user name and password for a token at the SSO endpoint, as oVirt's SDKs do. */
export async function signIn(user: string, password: string): Promise<Session> {
  const form = new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: user, password });
  const res = await fetch("/ovirt-engine/sso/oauth/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: form.toString(),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string };
  if (!res.ok || !body.access_token) {
    throw new ApiError(res.status, "Sign-in refused", body.error ?? `the engine answered ${res.status}`);
  }
  const s = { user, token: body.access_token };
  setSession(s);
  return s;
}

/** Revokes the token at the engine (best effort: the page forgets it either way). */
export async function signOut(): Promise<void> {
  const s = currentSession();
  setSession(undefined);
  if (s) await fetch(`/ovirt-engine/services/sso-logout?token=${encodeURIComponent(s.token)}`, { method: "POST" }).catch(() => undefined);
}

export type Json = Record<string, unknown>;

export interface CallOptions {
  /** oVirt's `Filter: true`: only what the user has permissions on (the VM portal's view). */
  filter?: boolean;
}

/** One API call: `path` is below /ovirt-engine/api. Resolves to the JSON answer ({} when empty). */
export async function api<T = Json>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
  return answer<T>(await send(method, path, body, opts));
}

/**
 * The members of a long collection (`key`: "vm" for `/vms`), read and parsed in pieces as the
 * answer arrives, so that a list of thousands never holds the page's thread for long (list-stream.ts).
 */
export async function apiList<T>(path: string, key: string, opts: CallOptions = {}): Promise<T[]> {
  const res = await send("GET", path, undefined, opts);
  if (!res.ok || !res.body) return items<T>(await answer<Json>(res), key);
  return readMembers<T>(res.body, key);
}

async function send(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body: unknown, opts: CallOptions): Promise<Response> {
  const s = currentSession();
  if (!s) throw new ApiError(401, "Not signed in", "sign in first");
  const headers: Record<string, string> = { accept: "application/json", authorization: `Bearer ${s.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (opts.filter) headers.filter = "true";
  try {
    return await fetch(`${API}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, "Engine unreachable", err instanceof Error ? err.message : String(err));
  }
}

/** The JSON of an answer, or the ApiError of a refusal (a refused token sends the user back to sign-in). */
async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let parsed: unknown = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { reason: `HTTP ${res.status}`, detail: text.slice(0, 200) };
  }
  if (res.status === 401) {
    // The token expired or was revoked (an engine restart forgets tokens): back to sign-in.
    setSession(undefined, true);
  }
  if (!res.ok) {
    const f = parsed as { reason?: unknown; detail?: unknown };
    throw new ApiError(res.status, typeof f.reason === "string" ? f.reason : `HTTP ${res.status}`, typeof f.detail === "string" ? f.detail : "");
  }
  return parsed as T;
}

/** GETs started with the page's code, before its first render: each answers one `getOnce` of its path. */
const early = new Map<string, Promise<unknown>>();

/**
 * Starts GETs the first page will make, at once and side by side, instead of one after another
 * as its parts mount (the admin check, then the page, then its effects after a paint).
 */
export function prefetch(paths: string[]): void {
  if (!currentSession()) return;
  for (const path of paths) {
    const p = api("GET", path);
    p.catch(() => undefined); // its taker sees the error; one never taken is no unhandled rejection
    early.set(path, p);
  }
}

/** A GET of `path`: the prefetched answer if one is waiting (taken once, so later calls are fresh), else a new request. */
export function getOnce<T = Json>(path: string): Promise<T> {
  const p = early.get(path);
  if (!p) return api<T>("GET", path);
  early.delete(path);
  return p as Promise<T>;
}

/** The members of a collection answer (`{"vm": [...]}`), [] when the collection is empty. */
export function items<T>(body: Json, key: string): T[] {
  const v = body[key];
  return Array.isArray(v) ? (v as T[]) : [];
}

/** A human message for anything thrown. */
export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
