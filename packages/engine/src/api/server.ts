/**
 * The HTTP server: body parsers, authentication, content negotiation (XML by default, JSON on
 * `Accept: application/json`), oVirt faults for every error, and the route table mounted at
 * /ovirt-engine/api and /ovirt-engine/api/v4. Knows nothing of resources beyond the table.
 */

import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { fastify } from "../deps.js";
import type { Engine } from "../engine.js";
import { ApiFault } from "../errors/fault.js";
import { nodeFault } from "../errors/node-fault.js";
import { NodeError, NodeUnreachable } from "../hosts/client.js";
import { EVENT_STREAM, serveEventStream } from "../events/stream.js";
import { Access, type Principal, userNameOf } from "../permissions/access.js";
import { DirectoryUnavailable } from "../users/directory.js";
import { NotAuthorizedToLogIn } from "../users/store.js";
import { peerOf, revokedPeer } from "../pki/revocation.js";
import { type After, authorize, afterReply, wantsFilter } from "../permissions/enforce.js";
import { Auth, notAuthorizedFault } from "./auth.js";
import { type ParsedBody, parseAnyBody, parseJsonBody, parseXmlBody } from "./body.js";
import type { BatchHandler, Call, Handler, Reply } from "./call.js";
import { applyFollow, getRoutes } from "./follow.js";
import { API } from "./href.js";
import { closeIfBodyUnread } from "./ignored-body.js";
import { keptGzip, toJson, toXml } from "./repr.js";
import { runAs } from "../events/actor.js";

export type Method = "GET" | "POST" | "PUT" | "DELETE";
export interface RouteDef {
  method: Method;
  /** Path under the API root ("" is the root itself). */
  path: string;
  handler: Handler;
  /** Many GETs of this route at once (used by `follow=` over a long list). */
  batch?: BatchHandler;
}

/** Internal (non-oVirt) endpoints: JSON only, own authentication. */
export interface InternalRouteDef extends RouteDef {
  internal: true;
}

const BODY_LIMIT = 1024 * 1024;

/**
 * A TLS connection (node:tls's TLSSocket sets `encrypted`). Not `instanceof TLSSocket`: importing
 * node:tls as an ES module reads the system's root certificates on the start path (seen in the
 * start's CPU profile), which the engine never uses.
 */
function isTls(sock: Socket | TLSSocket): sock is TLSSocket {
  return (sock as Partial<TLSSocket>).encrypted === true;
}

/**
 * Routes carry no fastify JSON schemas (input is checked with zod, replies are ours), so fastify's
 * schema compilers are never asked for; given none, fastify loads ajv and fast-json-stringify when
 * the server is made (measured: ~65 ms of CPU of the start, unbundled).
 */
function noSchemas(): never {
  throw new Error("fastify route schemas are not used: requests are validated with zod");
}
const SSO = "/ovirt-engine/sso/";
const SSO_LOGOUT = "/ovirt-engine/services/sso-logout";

function wantsJson(req: FastifyRequest): boolean {
  if (req.url.startsWith("/vela/")) return true; // Vela's own endpoints speak JSON only
  const accept = req.headers.accept ?? "";
  return /application\/json/i.test(accept) && !/application\/xml/i.test(accept.split(",")[0] ?? "");
}

function sendFault(reply: FastifyReply, f: ApiFault, json: boolean): FastifyReply {
  if (f.status === 401) {
    // A refused bearer token gets a Bearer challenge (RFC 6750): a Basic one would make browsers
    // pop up their own password dialog over the portal, whose fetch calls carry tokens.
    const bearer = /^bearer\s/i.test(reply.request.headers.authorization ?? "");
    reply.header("www-authenticate", bearer ? 'Bearer realm="RESTAPI", error="invalid_token"' : 'Basic realm="RESTAPI"');
  }
  if (json) return reply.code(f.status).type("application/json").send(toJson({ reason: f.reason, detail: f.detail }));
  return reply.code(f.status).type("application/xml").send(toXml("fault", { reason: f.reason, detail: f.detail }));
}

/** The fault of a sign-in the directory could not answer: the user's domain is down, not their password wrong. */
function directoryDown(err: DirectoryUnavailable): ApiFault {
  return new ApiFault(503, "Service Unavailable", `[${err.code}] cannot sign in: ${err.message}`);
}

/** The fault of a sign-in that threw: the directory down (503) or a user holding no permission (403); anything else is rethrown. */
function signInFault(err: unknown, engine: Engine): ApiFault {
  if (err instanceof NotAuthorizedToLogIn) return notAuthorizedFault(err);
  if (!(err instanceof DirectoryUnavailable)) throw err;
  engine.log.warn({ err: err.message }, "directory sign-in failed");
  return directoryDown(err);
}

/** Does the client take gzip (`Accept-Encoding: gzip`, not refused with q=0)? */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const h = Array.isArray(header) ? header.join(",") : (header ?? "");
  return h.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return (coding === "gzip" || coding === "x-gzip") && (q === undefined || Number(q.slice(2)) > 0);
  });
}

async function render(reply: FastifyReply, r: Reply, json: boolean, gzipOk = false): Promise<FastifyReply> {
  reply.code(r.status);
  if (r.raw) {
    if (r.raw.filename) reply.header("content-disposition", `attachment; filename="${r.raw.filename}"`);
    return reply.type(r.raw.type).send(r.raw.body);
  }
  if (!r.rep || !r.root) return reply.send();
  if (r.status === 201 && typeof r.rep.href === "string") reply.header("location", r.rep.href);
  // a kept answer (the list of every VM) goes compressed to clients that take it, compressed once
  const gz = gzipOk ? keptGzip(r.rep, json ? { json: true } : { json: false, root: r.root }) : undefined;
  if (gz) {
    reply.header("content-encoding", "gzip").header("vary", "accept-encoding");
    return reply.type(json ? "application/json" : "application/xml").send(await gz);
  }
  if (json) return reply.type("application/json").send(toJson(r.rep));
  return reply.type("application/xml").send(toXml(r.root, r.rep));
}

/**
 * An empty body is no body, whatever its declared type (the SDKs send `Content-Type:
 * application/xml` on every request); a GET or DELETE body is never read (oVirt ignores it).
 */
function bodyIgnored(req: FastifyRequest, body: string): boolean {
  return req.method === "GET" || req.method === "DELETE" || body.trim() === "";
}

function sessionCookie(header: string | undefined): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === "JSESSIONID" && v) return v;
  }
  return undefined;
}

/** The origin the client used, from its Host header (only used to build URLs handed back to that client). */
function originOf(req: FastifyRequest, tls: boolean): string | undefined {
  const host = req.headers.host;
  if (!host || !/^[A-Za-z0-9.:[\]-]{1,300}$/.test(host)) return undefined;
  return `${tls ? "https" : "http"}://${host}`;
}

function firstValues(q: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (q && typeof q === "object") {
    for (const [k, v] of Object.entries(q as Record<string, unknown>)) {
      const s = Array.isArray(v) ? v[0] : v;
      if (typeof s === "string") out[k] = s;
    }
  }
  return out;
}

/** The SSO request's fields: a form, or a JSON object whose members are all strings; else undefined. */
function ssoForm(body: unknown): Record<string, string> | undefined {
  if (body === undefined) return {};
  const b = body as { form?: Record<string, string> } | ParsedBody;
  if ("form" in b && b.form) return b.form;
  if (!("value" in b)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.value)) {
    if (typeof v !== "string") return undefined;
    out[k] = v;
  }
  return out;
}

function toFault(err: unknown, engine: Engine, req: FastifyRequest): ApiFault {
  if (err instanceof ApiFault) return err;
  if (err instanceof NodeError) return nodeFault(err.code, err.message, err);
  if (err instanceof NodeUnreachable) return new ApiFault(503, "Operation Failed", err.message);
  const e = err as { statusCode?: number; message?: string; code?: string };
  if (e.statusCode === 413) return new ApiFault(413, "Payload Too Large", `request body larger than ${BODY_LIMIT} bytes`);
  if (e.statusCode === 415) return unsupportedMedia();
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new ApiFault(400, "Bad Request", e.message ?? "bad request");
  engine.log.error({ err, url: req.url, method: req.method }, "request failed");
  return new ApiFault(500, "Operation Failed", e.message ?? "internal error");
}

function unsupportedMedia(): ApiFault {
  return new ApiFault(415, "Unsupported Media Type", "send application/xml or application/json");
}

/** Errors the router raises before any handler (over-long path parameters, undecodable URLs). */
function frameworkFault(err: { code?: string; message?: string }): ApiFault {
  if (err.code === "FST_ERR_MAX_PARAM_LENGTH") return new ApiFault(414, "URI Too Long", "a path parameter is longer than 500 characters");
  return new ApiFault(400, "Bad Request", err.code === "FST_ERR_BAD_URL" ? "the URL is not validly encoded" : "bad request");
}

/**
 * The HTTP parser refused the request (oversized headers, conflicting lengths, bad chunks,
 * garbage request lines): no request object exists, so the fault is written to the socket in
 * XML, the API's default representation.
 */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, text, detail] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large", "request headers are too large"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", "the request was not received in time"]
        : [400, "Bad Request", "malformed HTTP request"];
  const body = toXml("fault", { reason: text, detail });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The HTTPS server's certificate and key (PEM); without them the server speaks plain HTTP. */
export interface ServerTls {
  key: string;
  cert: string;
  /** The engine CA: client certificates it signed are verified and named to handlers (Call.peerHost). */
  caPem?: string;
}

/**
 * oVirt's matrix parameters (`/storagedomains/{id}/disks;unregistered`, `…/vms;max=10`) are its
 * query parameters spelled in the path's last segment: they become query parameters (a bare name
 * is `true`). A segment whose `;` parts are not `name` or `name=value` is left as is (a 404).
 */
export function matrixToQuery(url: string): string {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const slash = path.lastIndexOf("/");
  const semi = path.indexOf(";", slash + 1);
  if (semi < 0) return url;
  const parts = path.slice(semi + 1).split(";");
  if (!parts.every((p) => /^[A-Za-z_][A-Za-z0-9_]{0,39}(=[A-Za-z0-9_.%-]{0,100})?$/.test(p))) return url;
  const extra = parts.map((p) => (p.includes("=") ? p : `${p}=true`)).join("&");
  return `${path.slice(0, semi)}${q < 0 ? `?${extra}` : `${url.slice(q)}&${extra}`}`;
}

/** `/ovirt-engine/api/v4/…` is `/ovirt-engine/api/…` (oVirt serves both; v4 is the only version). */
function withoutV4(url: string): string {
  const v4 = `${API}/v4`;
  return url.startsWith(v4) && (url.length === v4.length || "/?".includes(url[v4.length] as string)) ? API + url.slice(v4.length) : url;
}

/**
 * HEAD of any URL: the GET's status and headers without its body (HTTP's rule), through the
 * same authentication, permission checks and handlers.
 */
async function answerHead(app: FastifyInstance, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const got = await app.inject({ method: "GET", url: req.url, headers: req.headers });
  const headers = Object.fromEntries(Object.entries(got.headers).filter(([k]) => !["connection", "transfer-encoding", "keep-alive"].includes(k)));
  reply.code(got.statusCode).headers(headers).send();
}

export function buildServer(engine: Engine, routes: RouteDef[], internal: RouteDef[], tls?: ServerTls): FastifyInstance {
  const auth = new Auth(engine.cfg, engine.db, engine.directory, (who) => new Access(engine, who).mayLogIn());
  // who sent each API request, set by the authentication hook
  const principals = new WeakMap<FastifyRequest, Principal>();
  const app = fastify.fastify({
    // Client certificates are asked for, never required (browsers and API clients have none):
    // nodes present theirs so that re-registering proves which host they are (RegisterHost).
    ...(tls
      ? { https: { key: tls.key, cert: tls.cert, minVersion: "TLSv1.2" as const, ...(tls.caPem ? { ca: tls.caPem, requestCert: true, rejectUnauthorized: false } : {}) } }
      : {}),
    logger: false,
    bodyLimit: BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // One route per table entry: the router's insertion cost grows faster than the route count
    // (measured: 1,020 routes — both prefixes, each GET with its HEAD — took 2.3 s of the
    // engine's start; 255 took 0.55 s). So `/v4` is the same URL spelled longer, rewritten
    // before routing, and HEAD is answered by one route for all (`answerHead`).
    exposeHeadRoutes: false,
    rewriteUrl: (req) => withoutV4(matrixToQuery(req.url ?? "/")),
    frameworkErrors: (err, req, reply) => sendFault(reply, frameworkFault(err), wantsJson(req)),
    clientErrorHandler: clientError,
    schemaController: { compilersFactory: { buildValidator: () => noSchemas, buildSerializer: () => noSchemas } },
  });

  // Our own parsers so that malformed bodies become oVirt faults.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(["application/xml", "text/xml"], { parseAs: "string" }, (req, body, done) => {
    // The SDKs declare XML on DELETE and on actions without parameters and send nothing.
    if (bodyIgnored(req, body as string)) return done(null, undefined);
    try {
      done(null, parseXmlBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    if (bodyIgnored(req, body as string)) return done(null, undefined);
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // Forms are what the SSO endpoint takes; the API itself speaks XML and JSON only.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (req, body, done) => {
    if (bodyIgnored(req, body as string)) return done(null, undefined);
    if (!req.url.startsWith(SSO) && !req.url.startsWith(SSO_LOGOUT)) {
      // `curl -d ''` sends an empty form: no body, not a wrong one.
      return (body as string).trim() === "" ? done(null, undefined) : done(unsupportedMedia(), undefined);
    }
    done(null, { form: Object.fromEntries(new URLSearchParams(body as string)) });
  });
  app.addContentTypeParser("*", { parseAs: "string" }, (req, body, done) => {
    if (bodyIgnored(req, body as string)) return done(null, undefined);
    // No Content-Type at all: sniff (curl and scripts); any other declared type is not ours.
    if (req.headers["content-type"] !== undefined && (body as string).trim() !== "") return done(unsupportedMedia(), undefined);
    try {
      done(null, parseAnyBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook("onRequest", async (req, reply) => {
    // GET and HEAD bodies are ignored and never read (see ignored-body.ts).
    if (req.method === "GET" || req.method === "HEAD") closeIfBodyUnread(req, reply);
    // a removed host's certificate is refused on every request, whatever the route
    const sock = req.raw.socket;
    if (isTls(sock) && (await revokedPeer(engine, tls?.caPem, sock))) {
      closeIfBodyUnread(req, reply);
      return sendFault(reply, new ApiFault(403, "Forbidden", "the client certificate was revoked (its host was removed)"), wantsJson(req));
    }
    if (!req.url.startsWith(API)) return;
    const session = sessionCookie(req.headers.cookie);
    let sessionUser: Principal | undefined;
    let user: Principal | undefined;
    try {
      sessionUser = session ? await auth.check(`Bearer ${session}`) : undefined;
      user = (await auth.check(req.headers.authorization)) ?? sessionUser;
    } catch (err) {
      // a directory that cannot answer fails its own users' requests, clearly, and no one else's;
      // a user holding no permission is refused before anything is read
      const f = signInFault(err, engine);
      closeIfBodyUnread(req, reply);
      return sendFault(reply, f, wantsJson(req));
    }
    if (user && !sessionUser && req.headers.authorization && /persistent-auth/i.test(String(req.headers.prefer ?? ""))) {
      // oVirt's persistent authentication: later requests carry the cookie instead of credentials
      // (libgovirt sends both; a live session is kept, not replaced by a new one per request).
      const { token } = auth.issue(user);
      reply.header("set-cookie", `JSESSIONID=${token}; Path=${API}; HttpOnly`);
    }
    if (user) principals.set(req, user);
    if (!user) {
      // The answer goes out before any body is read.
      closeIfBodyUnread(req, reply);
      return sendFault(reply, new ApiFault(401, "Unauthorized", "Authentication required: HTTP Basic (user@domain) or an SSO bearer token"), wantsJson(req));
    }
  });

  app.setErrorHandler((err, req, reply) => sendFault(reply, toFault(err, engine, req), wantsJson(req)));
  app.setNotFoundHandler((req, reply) =>
    sendFault(reply, new ApiFault(404, "Not Found", `No resource at ${req.method} ${req.url.split("?")[0]}`), wantsJson(req)),
  );

  const gets = getRoutes(routes);
  const mount = (prefix: string, r: RouteDef, json: (req: FastifyRequest) => boolean) => {
    app.route({
      method: r.method,
      url: `${prefix}${r.path}` || "/",
      handler: async (req, reply) => {
        const user = principals.get(req);
        const c: Call = {
          engine,
          params: (req.params ?? {}) as Record<string, string>,
          query: firstValues(req.query),
          // GET and DELETE carry no body: whatever a client sends with them is ignored
          body: r.method === "GET" || r.method === "DELETE" ? undefined : (req.body as ParsedBody | undefined),
          accept: req.headers.accept,
          origin: originOf(req, tls !== undefined),
          user,
          peerHost: isTls(req.raw.socket) ? peerOf(tls?.caPem, req.raw.socket)?.cn : undefined,
        };
        if (!user) return render(reply, await r.handler(c), json(req)); // internal routes authenticate themselves
        const access = new Access(engine, user);
        const filter = wantsFilter(req.headers.filter, c.query);
        const after = await authorize(engine, access, r.method, r.path, c, filter);
        // the handler's commands record events naming this user (events/actor.ts)
        const out = await afterReply(access, await runAs({ id: user.id, name: userNameOf(user) }, () => r.handler(c)), after);
        if (c.query.follow && out.rep && r.method === "GET") {
          // `follow=`: linked objects inlined, read through the same GET handlers (follow.ts),
          // each passing the same permission check as its own URL would.
          const guarded = gets.map((g) => {
            const batch = g.batch;
            return {
              ...g,
              handler: async (fc: Call) => afterReply(access, await g.handler(fc), await authorize(engine, access, "GET", g.path, fc, filter)),
              ...(batch
                ? {
                    batch: async (fcs: Call[]) => {
                      const afters: After[] = [];
                      for (const fc of fcs) afters.push(await authorize(engine, access, "GET", g.path, fc, filter));
                      const replies = await batch(fcs);
                      return Promise.all(replies.map((rep, i) => afterReply(access, rep, afters[i])));
                    },
                  }
                : {}),
            };
          });
          out.rep = await applyFollow(out.rep, c.query.follow, { engine, accept: c.accept, user }, guarded);
        }
        return render(reply, out, json(req), acceptsGzip(req.headers["accept-encoding"]));
      },
    });
  };
  for (const r of routes) mount(API, r, wantsJson);
  app.route({ method: "HEAD", url: "/*", handler: (req, reply) => answerHead(app, req, reply) });
  for (const r of internal) mount("", r, () => true);

  // oVirt SSO: what the SDKs call before any API request.
  app.post("/ovirt-engine/sso/oauth/token", async (req, reply) => {
    const denied = (error: string) => reply.code(400).type("application/json").send(JSON.stringify({ error_code: "access_denied", error }));
    const q = firstValues(req.query);
    // Credentials in a URL end up in access logs and proxies: only the body may carry them.
    if (q.password !== undefined || q.username !== undefined) return denied("Credentials are accepted in the request body only, not in the query string.");
    const body = ssoForm(req.body);
    if (!body) return denied("Send the credentials as a form (or a JSON object) of strings.");
    const form: Record<string, string | undefined> = { grant_type: q.grant_type, scope: q.scope, ...body };
    let who: Principal | undefined;
    try {
      who = form.grant_type === "password" && form.username && form.password !== undefined ? await auth.login(form.username, form.password) : undefined;
    } catch (err) {
      // oVirt's SSO: HTTP 400, access_denied, "Cannot authenticate user '…': why."
      if (err instanceof NotAuthorizedToLogIn) return denied(`Cannot authenticate user '${err.user}': ${err.message}.`);
      return reply.code(503).type("application/json").send(JSON.stringify({ error_code: "server_error", error: signInFault(err, engine).detail }));
    }
    if (!who) return denied("Cannot authenticate user: wrong username or password.");
    const { token, exp } = auth.issue(who);
    return reply
      .type("application/json")
      .send(JSON.stringify({ access_token: token, token_type: "bearer", scope: form.scope ?? "ovirt-app-api", exp: String(exp) }));
  });
  // The SDKs log out with the token in the query (GET) or in a form (POST); the answer is JSON.
  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    // the token comes in the query (the SDKs), a form (curl, browsers) or as the bearer itself
    const form = ssoForm(req.body) ?? {};
    const bearer = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const token = firstValues(req.query).token ?? form.token ?? bearer;
    if (token) {
      auth.revoke(token);
      for (const end of streams.get(token) ?? []) end("session ended");
    }
    return reply.code(200).type("application/json").send("{}");
  };
  app.get(SSO_LOGOUT, logout);
  app.post(SSO_LOGOUT, logout);

  // The portal's live updates (events/stream.ts): the same credentials as the API, never in the URL.
  const streams = new Map<string, Set<(why: string) => void>>();
  app.get(EVENT_STREAM, async (req, reply) => {
    const authorization = req.headers.authorization;
    let user: Principal | undefined;
    try {
      user = await auth.check(authorization);
    } catch (err) {
      return sendFault(reply, signInFault(err, engine), true);
    }
    if (!user) return sendFault(reply, new ApiFault(401, "Unauthorized", "Authentication required: HTTP Basic (user@domain) or an SSO bearer token"), true);
    reply.hijack();
    const end = serveEventStream(engine, user, req.raw, reply.raw, async () => (await auth.check(authorization))?.id === user.id);
    const token = /^bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
    if (!token) return;
    const set = streams.get(token) ?? new Set();
    set.add(end);
    streams.set(token, set);
    req.raw.on("close", () => {
      set.delete(end);
      if (!set.size) streams.delete(token);
    });
  });

  return app;
}
