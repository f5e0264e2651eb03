/**
 * The engine's audit log (oVirt's AuditLogDirector): `logEvent` records what happened — VM and
 * host state changes seen by monitoring, storage domain state changes, user actions run as
 * commands — with oVirt's event codes where oVirt has one, as rows of `events` that `/events`
 * serves, and the live feed (bus.ts) hears as it is written. Ids increase by one per event in this engine (assigned in order, one writer); an event
 * that cannot be written is logged and never fails the work that caused it.
 */
import type { EventsTable } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { currentActor } from "./actor.js";
import { publish } from "./bus.js";
import { ACTION_CODES, Code, type Severity } from "./codes.js";

export interface EventInput {
  code: number;
  severity: Severity;
  description: string;
  vmId?: string | null;
  hostId?: string | null;
  storageDomainId?: string | null;
  dataCenterId?: string | null;
  clusterId?: string | null;
  correlationId?: string | null;
  /** The user who caused it (API actions only; monitoring names none). */
  userId?: string | null;
}

/** One chain of writes per engine: ids are handed out in order without a database sequence. */
const chains = new WeakMap<Engine, { next?: number; tail: Promise<unknown> }>();

export function logEvent(e: Engine, ev: EventInput): Promise<void> {
  let ch = chains.get(e);
  if (!ch) {
    ch = { tail: Promise.resolve() };
    chains.set(e, ch);
  }
  const c = ch;
  const write = async () => {
    if (c.next === undefined) {
      const row = await e.db.selectFrom("events").select((eb) => eb.fn.max("id").as("max")).executeTakeFirst();
      c.next = Number(row?.max ?? 0) + 1;
    }
    const row: EventsTable = {
      id: c.next,
      code: ev.code,
      severity: ev.severity,
      description: ev.description.slice(0, 4000),
      time: new Date().toISOString(),
      vm_id: ev.vmId ?? null,
      host_id: ev.hostId ?? null,
      storage_domain_id: ev.storageDomainId ?? null,
      data_center_id: ev.dataCenterId ?? null,
      cluster_id: ev.clusterId ?? null,
      correlation_id: ev.correlationId ?? null,
      user_id: ev.userId ?? null,
    };
    await e.db.insertInto("events").values(row).execute();
    c.next++;
    publish(e, {
      type: "event",
      id: row.id,
      code: row.code,
      severity: row.severity,
      description: row.description,
      time: row.time,
      vm: row.vm_id ?? undefined,
      host: row.host_id ?? undefined,
      storage_domain: row.storage_domain_id ?? undefined,
      data_center: row.data_center_id ?? undefined,
      cluster: row.cluster_id ?? undefined,
    });
  };
  const p = c.tail.then(write, write).catch((err: unknown) => {
    // read the highest id again next time (another engine on the database may have written)
    c.next = undefined;
    e.log.warn({ err, code: ev.code }, "cannot record event");
  });
  c.tail = p;
  return p;
}

/** A user action (a command) ended: "<description> … finished/failed", with oVirt's code for it. */
export function logAction(e: Engine, name: string, description: string, ok: boolean, refs: Partial<EventInput>, detail?: string): Promise<void> {
  const codes = ACTION_CODES[name];
  const code = codes ? codes[ok ? 0 : 1] : ok ? Code.ACTION_DONE : Code.ACTION_FAILED;
  // the user of the request that ran the command, named as oVirt does ("… by admin@internal")
  const actor = currentActor();
  const by = actor ? ` by ${actor.name}` : "";
  const text = ok ? `${description}: done${by}.` : `${description}: failed${by}${detail ? ` (${detail})` : ""}.`;
  return logEvent(e, { ...refs, code, severity: ok ? "normal" : "error", description: text, userId: actor?.id });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function idIn(o: unknown, key: string): string | undefined {
  if (typeof o !== "object" || o === null) return undefined;
  const v = (o as Record<string, unknown>)[key];
  if (typeof v === "string" && UUID.test(v)) return v;
  if (typeof v === "object" && v !== null) {
    const id = (v as Record<string, unknown>).id;
    if (typeof id === "string" && UUID.test(id)) return id;
  }
  return undefined;
}

/** A command on one object names it `id` in its input: which reference that is, by the command's noun. */
const NOUN_REF: [RegExp, keyof EventInput][] = [
  [/ VM$/, "vmId"],
  [/ Host$/, "hostId"],
  [/ Storage Domain$/, "storageDomainId"],
  [/ Data Center$/, "dataCenterId"],
  [/ Cluster$/, "clusterId"],
];

/** The objects a command concerns, read from its input and plan by the names commands use. */
export function eventRefs(name: string, input: unknown, plan: unknown): Partial<EventInput> {
  const refs = namedRefs(input, plan);
  const own = NOUN_REF.find(([re]) => re.test(name))?.[1];
  const id = idIn(input, "id");
  if (own && id && !refs[own]) Object.assign(refs, { [own]: id });
  return refs;
}

function namedRefs(input: unknown, plan: unknown): Partial<EventInput> {
  const pick = (...keys: string[]) => {
    for (const src of [plan, input]) for (const k of keys) {
      const id = idIn(src, k);
      if (id) return id;
    }
    return undefined;
  };
  return {
    vmId: pick("vm", "vmId"),
    hostId: pick("host", "hostId"),
    storageDomainId: pick("sd", "storageDomain", "sdId", "storageDomainId"),
    dataCenterId: pick("dc", "dataCenter", "dcId"),
    clusterId: pick("cluster", "clusterId"),
  };
}
