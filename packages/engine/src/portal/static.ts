/**
 * The web portal's files (`packages/portal`, built by esbuild into its `dist/`), served at
 * /ovirt-engine/web/ with `/` redirecting there. Static files only: the portal signs in through
 * the SSO endpoint and calls the API like any client, so nothing here needs authentication.
 * Only files the build wrote are served (the list is read from `dist/`), never a path made
 * from the request. It must never serve anything outside the portal's `dist/`. The build names
 * every script and style sheet by its content's hash: those browsers may keep for good, so a
 * reload asks for index.html alone (always revalidated: it names the current build's files).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";

export const PORTAL_PATH = "/ovirt-engine/web";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/**
 * Everything the page may load comes from the engine itself; the API is called on the same
 * origin (relative URLs, so HTTP and HTTPS both work); the page cannot be framed.
 */
export const PORTAL_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export interface PortalAsset {
  type: string;
  body: Buffer;
}

/** The portal's dist/ directory: the workspace package @vela/portal, or beside the engine in a .deb. */
export function portalDist(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@vela/portal/package.json")), "dist");
  } catch {
    return undefined;
  }
}

let files: Promise<Map<string, string>> | undefined;
/** When the list was last read: a name it lacks re-reads it (a new build), at most once a second. */
let readAt = 0;
/** A built file named by its content (esbuild's `[name]-[hash]`): it never changes under that name. */
const HASHED = /-[A-Z0-9]{8}\.(js|css)$/;

/** Built file name (relative, "/" separated) → absolute path; empty when the portal is not built. */
async function builtFiles(dist: string | undefined): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!dist) return out;
  try {
    for (const e of await readdir(dist, { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !TYPES[extname(e.name)]) continue;
      const abs = join(e.parentPath, e.name);
      out.set(abs.slice(dist.length + 1), abs);
    }
  } catch {
    // not built: every request answers 404 and the index says how to build
  }
  return out;
}

/** The asset at `rel` (path below PORTAL_PATH; "" is the index), or undefined. */
export async function portalAsset(rel: string): Promise<PortalAsset | undefined> {
  const name = rel === "" ? "index.html" : rel;
  for (let fresh = false; ; fresh = true) {
    if (!files || (fresh && Date.now() - readAt >= 1000)) {
      files = builtFiles(portalDist());
      readAt = Date.now();
      fresh = true;
    }
    const abs = (await files).get(name);
    // gone or not listed: a new build while the engine runs (development; its files have new
    // names) — the list is read again, at most once a second
    const body = abs ? await readFile(abs).catch(() => undefined) : undefined;
    if (body) return { type: TYPES[extname(name)] as string, body };
    if (fresh) return undefined;
  }
}

async function servePortal(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  let rel: string;
  try {
    rel = decodeURIComponent((req.params as { "*"?: string })["*"] ?? "");
  } catch {
    rel = "\0"; // not validly encoded: no such file
  }
  const asset = await portalAsset(rel);
  if (!asset) {
    const why = rel === "" ? "The portal is not built: run ./vela (it builds packages/portal)." : "Not Found";
    return reply.code(404).type("text/plain").send(why);
  }
  return reply
    .type(asset.type)
    .header("cache-control", HASHED.test(rel) ? "public, max-age=31536000, immutable" : "no-cache")
    .header("content-security-policy", PORTAL_CSP)
    .header("x-content-type-options", "nosniff")
    .send(asset.body);
}

/** `/` redirects browsers to the portal; the portal's files below PORTAL_PATH. No authentication: static files only. */
export function registerPortal(app: FastifyInstance): void {
  app.get("/", async (_req, reply) => reply.redirect(`${PORTAL_PATH}/`));
  app.get(PORTAL_PATH, servePortal);
  app.get(`${PORTAL_PATH}/*`, servePortal);
}
