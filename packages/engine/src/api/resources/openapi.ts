/**
 * GET /ovirt-engine/api/openapi.json: an OpenAPI 3.0 document of what this engine serves,
 * generated from the route table (routes.ts) so it cannot drift from it. Shapes of the bodies are
 * oVirt's (see the oVirt API model); this document lists paths, methods, path and query
 * parameters, the answers and the two ways to authenticate.
 */

import type { Call, Reply } from "../call.js";
import { API } from "../href.js";
import { apiRoutes } from "../routes.js";
import type { RouteDef } from "../server.js";

type Json = Record<string, unknown>;

/** `/vms/:id/nics/:nic` → `/vms/{id}/nics/{nic}` and its parameter names. */
export function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const p = path.replace(/:([A-Za-z_]+)/g, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: p === "" ? "/" : p, params };
}

const LIST_QUERY = [
  ["search", "oVirt's search language: name=vm1 and cluster=Default or …, sortby name desc, page 2"],
  ["max", "at most this many results"],
  ["case_sensitive", "true (default) or false"],
  ["follow", "links to inline, e.g. disk_attachments.disk"],
  ["all_content", "true for every member (also the All-Content header)"],
] as const;

function fault(description: string): Json {
  return { description, content: { "application/xml": {}, "application/json": {} } };
}

function operation(r: RouteDef, params: string[]): Json {
  // A GET whose path does not end in an id reads a collection (or the root): it takes the list parameters.
  const isCollection = r.method === "GET" && (params.length === 0 || !r.path.endsWith(`:${params.at(-1)}`));
  const parameters: Json[] = params.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } }));
  if (isCollection) for (const [name, description] of LIST_QUERY) parameters.push({ name, in: "query", required: false, description, schema: { type: "string" } });
  const responses: Json = {
    "200": { description: "OK", content: { "application/xml": {}, "application/json": {} } },
    "400": fault("bad input (oVirt fault)"),
    "401": fault("authentication required"),
    "404": fault("no such object"),
  };
  if (r.method === "POST") responses["201"] = { description: "created (adding to a collection)", content: { "application/xml": {}, "application/json": {} } };
  if (r.method === "POST" || r.method === "PUT" || r.method === "DELETE") responses["409"] = fault("conflict with the object's state");
  const op: Json = { operationId: `${r.method.toLowerCase()}${openApiPath(r.path).path.replace(/[{}]/g, "").replace(/\/(\w)/g, (_m, c: string) => c.toUpperCase())}`, parameters, responses };
  if (r.method === "POST" || r.method === "PUT") {
    op.requestBody = { required: false, content: { "application/xml": {}, "application/json": {} } };
  }
  return op;
}

export function openApiDocument(routes: RouteDef[]): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const { path, params } = openApiPath(r.path);
    paths[path] ??= {};
    (paths[path] as Json)[r.method.toLowerCase()] = operation(r, params);
  }
  return {
    openapi: "3.0.3",
    info: { title: "Vela engine API (oVirt REST API v4 compatible)", version: "4.5.0-vela-0.1.0" },
    servers: [{ url: API }, { url: `${API}/v4` }],
    components: {
      securitySchemes: {
        basic: { type: "http", scheme: "basic", description: "user@domain, e.g. admin@internal" },
        bearer: { type: "http", scheme: "bearer", description: "a token from POST /ovirt-engine/sso/oauth/token" },
      },
    },
    security: [{ basic: [] }, { bearer: [] }],
    paths,
  };
}

let cached: string | undefined;

export async function get(_c: Call): Promise<Reply> {
  cached ??= JSON.stringify(openApiDocument(apiRoutes));
  return { status: 200, raw: { type: "application/json", body: cached } };
}
