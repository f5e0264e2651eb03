/**
 * `?follow=disk_attachments.disk,nics`: the linked objects inlined in one answer, as the oVirt
 * SDKs and Ansible ask for them. Each path segment names either a reference member (`disk`,
 * `cluster`: replaced by the full object) or a link (`disk_attachments` is `rel="diskattachments"`:
 * the collection is put in as a member of that name); the next segment applies to what was put
 * in. Linked objects are read through the same GET handlers as their own URLs (one route table),
 * so they look exactly as when read alone. Bounded: a few paths, a few segments, a budget of reads.
 * One segment is followed for all objects at once: a route with a batch handler (the disk
 * attachments of 10,000 VMs) answers them all in one call, the others one call per object. What
 * is put in goes into shallow copies, never into the handler's own trees (they may be sealed).
 */
import { badRequest } from "../errors/fault.js";
import type { BatchHandler, Call, Handler, Reply } from "./call.js";
import { API } from "./href.js";
import { copyOf, type Rep, type RepValue } from "./repr.js";

const MAX_PATHS = 10;
const MAX_SEGMENTS = 4;
/** Calls a follow may make (a batch call counts once: its size is the answer's own size). */
const MAX_READS = 5000;

export interface GetRoute {
  /** The route's own pattern (for the permission check of what is followed). */
  path: string;
  re: RegExp;
  names: string[];
  handler: Handler;
  batch?: BatchHandler;
}

export function getRoutes(routes: { method: string; path: string; handler: Handler; batch?: BatchHandler }[]): GetRoute[] {
  return routes
    .filter((r) => r.method === "GET" && r.path !== "")
    .map((r) => {
      const names: string[] = [];
      const src = r.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:([A-Za-z_]+)/g, (_m, n: string) => {
        names.push(n);
        return "([^/]+)";
      });
      return { path: r.path, re: new RegExp(`^${src}$`), names, handler: r.handler, ...(r.batch ? { batch: r.batch } : {}) };
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

/** A copy whose objects (the entity, or a collection's items) may be written to. */
export function thaw(rep: Rep): Rep {
  if (typeof rep.href === "string") return copyOf(rep);
  const keys = Object.keys(rep);
  const k = keys.length === 1 ? (keys[0] as string) : undefined;
  const only = k === undefined ? undefined : rep[k];
  if (k !== undefined && Array.isArray(only)) return { [k]: only.map((x) => (isRep(x) ? copyOf(x) : x)) };
  return copyOf(rep);
}

export function parseFollow(follow: string): string[][] {
  const paths = follow.split(",").map((p) => p.trim()).filter(Boolean).map((p) => p.split("."));
  if (paths.length > MAX_PATHS) throw badRequest(`follow: at most ${MAX_PATHS} paths`);
  for (const p of paths) {
    if (p.length > MAX_SEGMENTS || p.some((s) => !/^[a-z_]{1,64}$/.test(s))) throw badRequest(`follow: '${p.join(".").slice(0, 80)}' is not a path of link names`);
  }
  return paths;
}

type Base = Omit<Call, "params" | "query" | "body">;

/** Inlines what `follow` names; returns the answer to send (a copy of `rep` where anything was put in). */
export async function applyFollow(rep: Rep, follow: string, base: Base, routes: GetRoute[]): Promise<Rep> {
  let reads = 0;
  const spend = () => {
    if (++reads > MAX_READS) throw badRequest(`follow: more than ${MAX_READS} linked objects`);
  };
  /** Reads many hrefs, batching those whose route can; undefined where no route answers. */
  const readAll = async (hrefs: string[]): Promise<(Rep | undefined)[]> => {
    const out: (Rep | undefined)[] = hrefs.map(() => undefined);
    const byRoute = new Map<GetRoute, { at: number; call: Call }[]>();
    // the hrefs of one segment mostly share a route: try the last one that matched first
    let last: GetRoute | undefined;
    hrefs.forEach((href, at) => {
      if (!href.startsWith(`${API}/`)) return;
      const path = href.slice(API.length).split("?")[0] ?? "";
      for (const r of last ? [last, ...routes] : routes) {
        const m = r.re.exec(path);
        if (!m) continue;
        last = r;
        const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? "")]));
        const list = byRoute.get(r) ?? [];
        list.push({ at, call: { ...base, params, query: {} } });
        byRoute.set(r, list);
        return;
      }
    });
    for (const [r, calls] of byRoute) {
      let replies: Reply[];
      if (r.batch && calls.length > 1) {
        spend();
        replies = await r.batch(calls.map((x) => x.call));
      } else {
        replies = [];
        for (const x of calls) {
          spend();
          replies.push(await r.handler(x.call));
        }
      }
      calls.forEach((x, i) => {
        const rep = replies[i]?.rep;
        out[x.at] = rep ? thaw(rep) : undefined;
      });
    }
    return out;
  };
  const walk = async (objs: Rep[], path: string[]): Promise<void> => {
    const [seg, ...rest] = path;
    if (!seg || objs.length === 0) return;
    const rel = seg.replace(/_/g, "");
    const hrefs: string[] = [];
    const owners: Rep[] = [];
    const next: Rep[] = [];
    for (const o of objs) {
      const member = o[seg];
      if (isRep(member) && typeof member.href === "string") {
        owners.push(o);
        hrefs.push(member.href);
        continue;
      }
      const link = (Array.isArray(o.link) ? o.link : []).filter(isRep).find((l) => l.rel === rel);
      if (typeof link?.href === "string") {
        owners.push(o);
        hrefs.push(link.href);
      } else if (isRep(member)) {
        const copy = thaw(member);
        o[seg] = copy;
        next.push(...objectsOf(copy));
      }
    }
    const got = await readAll(hrefs);
    got.forEach((full, i) => {
      if (!full) return;
      (owners[i] as Rep)[seg] = full;
      next.push(...objectsOf(full));
    });
    await walk(next, rest);
  };
  const top = thaw(rep);
  for (const p of parseFollow(follow)) await walk(objectsOf(top), p);
  return top;
}
