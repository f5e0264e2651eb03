/**
 * GET /events (oVirt's audit log) newest first, with `from=<id>` (only events after that id, for
 * polling), `max`, and `search` (severity, code, vm, host, description); GET /events/{id}.
 */
import type { EngineEvent } from "../../db/schema.js";
import { invalid, notFound } from "../../errors/fault.js";
import { type Call, ok, type Reply } from "../call.js";
import { href, ref } from "../href.js";
import { collection, type Rep } from "../repr.js";
import { applySearch } from "../search.js";

/** More than this many events in one answer are cut (use `from` to page). */
const HARD_LIMIT = 10_000;

function eventView(ev: EngineEvent): Rep {
  return {
    href: href("events", String(ev.id)),
    id: String(ev.id),
    description: ev.description,
    code: ev.code,
    custom_id: -1,
    flood_rate: 30,
    origin: "oVirt",
    severity: ev.severity,
    time: new Date(ev.time),
    correlation_id: ev.correlation_id ?? undefined,
    cluster: ref("clusters", ev.cluster_id),
    data_center: ref("datacenters", ev.data_center_id),
    host: ref("hosts", ev.host_id),
    storage_domain: ref("storagedomains", ev.storage_domain_id),
    vm: ref("vms", ev.vm_id),
    user: ref("users", ev.user_id),
  };
}

/** A non-negative event id from the request, or a 400. */
function eventId(raw: string, what: string): number {
  if (!/^[0-9]{1,15}$/.test(raw)) throw invalid(`Invalid ${what} '${raw.slice(0, 20)}': not an event id`);
  return Number(raw);
}

export async function list(c: Call): Promise<Reply> {
  let q = c.engine.db.selectFrom("events").selectAll().orderBy("id", "desc").limit(HARD_LIMIT);
  if (c.query.from !== undefined) q = q.where("id", ">", eventId(c.query.from, "from"));
  const rows = await q.execute();
  const found = applySearch(rows, c.query, {
    severity: (r: EngineEvent) => r.severity,
    code: (r) => r.code,
    id: (r) => r.id,
    vm: (r) => r.vm_id,
    host: (r) => r.host_id,
    description: (r) => r.description,
  });
  return ok("events", collection("event", found.map(eventView)));
}

export async function get(c: Call): Promise<Reply> {
  const raw = c.params.id ?? "";
  if (!/^[0-9]{1,15}$/.test(raw)) throw notFound("Event", raw.slice(0, 80));
  const ev = await c.engine.db.selectFrom("events").selectAll().where("id", "=", Number(raw)).executeTakeFirst();
  if (!ev) throw notFound("Event", raw);
  return ok("event", eventView(ev));
}
