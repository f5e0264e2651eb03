/**
 * `?follow=disk_attachments.disk,nics`: the linked objects inlined in one answer, as the oVirt
 * SDKs and Ansible ask for them. Each path segment names either a reference member (`disk`,
 * `cluster`: replaced by the full object) or a link (`disk_attachments` is `rel="diskattachments"`:
 * the collection is put in as a member of that name); the next segment applies to what was put
 * in. Linked objects are read through the same GET handlers as their own URLs (one route table),
 * so they look exactly as when read alone. Bounded: a few paths, a few segments, a budget of reads.
 */
import { badRequest } from "../errors/fault.js";
import type { Call, Handler } from "./call.js";
import { API } from "./href.js";
import type { Rep, RepValue } from "./repr.js";

const MAX_PATHS = 10;
const MAX_SEGMENTS = 4;
const MAX_READS = 5000;

interface GetRoute {
  /** The route's own pattern (for the permission check of what is followed). */
  path: string;
  re: RegExp;
  names: string[];
  handler: Handler;
}

export function getRoutes(routes: { method: string; path: string; handler: Handler }[]): GetRoute[] {
  return routes
    .filter((r) => r.method === "GET" && r.path !== "")
    .map((r) => {
      const names: string[] = [];
      const src = r.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:([A-Za-z_]+)/g, (_m, n: string) => {
        names.push(n);
        return "([^/]+)";
      });
      return { path: r.path, re: new RegExp(`^${src}$`), names, handler: r.handler };
    });
}

function isRep(v: RepValue): v is Rep {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The objects of an answer: a collection's items, or the one entity. */
function objectsOf(rep: Rep): Rep[] {
  if (typeof rep.href === "string") return [rep];
  const keys = Object.keys(rep);
  const only = keys.length === 1 ? rep[keys[0] as string] : undefined;
  return Array.isArray(only) ? only.filter(isRep) : [];
}

export function parseFollow(follow: string): string[][] {
  const paths = follow.split(",").map((p) => p.trim()).filter(Boolean).map((p) => p.split("."));
  if (paths.length > MAX_PATHS) throw badRequest(`follow: at most ${MAX_PATHS} paths`);
  for (const p of paths) {
    if (p.length > MAX_SEGMENTS || p.some((s) => !/^[a-z_]{1,64}$/.test(s))) throw badRequest(`follow: '${p.join(".").slice(0, 80)}' is not a path of link names`);
  }
  return paths;
}

export async function applyFollow(rep: Rep, follow: string, base: Omit<Call, "params" | "query" | "body">, routes: GetRoute[]): Promise<void> {
  let reads = 0;
  const read = async (href: string): Promise<Rep | undefined> => {
    if (++reads > MAX_READS) throw badRequest(`follow: more than ${MAX_READS} linked objects`);
    if (!href.startsWith(`${API}/`)) return undefined;
    const path = href.slice(API.length).split("?")[0] ?? "";
    for (const r of routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? "")]));
      const reply = await r.handler({ ...base, params, query: {} });
      return reply.rep;
    }
    return undefined;
  };
  const walk = async (objs: Rep[], path: string[]): Promise<void> => {
    const [seg, ...rest] = path;
    if (!seg) return;
    for (const o of objs) {
      const member = o[seg];
      let next: Rep[] = [];
      if (isRep(member) && typeof member.href === "string") {
        const full = await read(member.href);
        if (full) {
          o[seg] = full;
          next = [full];
        }
      } else {
        const rel = seg.replace(/_/g, "");
        const link = (Array.isArray(o.link) ? o.link : []).filter(isRep).find((l) => l.rel === rel);
        if (typeof link?.href === "string") {
          const coll = await read(link.href);
          if (coll) {
            o[seg] = coll;
            next = objectsOf(coll);
          }
        } else if (isRep(member)) {
          next = objectsOf(member);
        }
      }
      await walk(next, rest);
    }
  };
  for (const p of parseFollow(follow)) await walk(objectsOf(rep), p);
}
