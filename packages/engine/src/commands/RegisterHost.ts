/**
 * A node announces itself (POST /vela/v1/hosts/register). With the engine's registration token
 * the host is approved at once (status up); without it, it waits in pending_approval for an
 * administrator. Once approved, a host re-registers (a node restart, a new address) only with its
 * own client certificate (CN = its id, signed by the engine CA) or the token: anyone else who
 * knows its id is refused (403) and nothing changes — before, they could move it to another address
 * and back into pending_approval. An engine without TLS (no certificates at all) keeps the older
 * rule: same address up again, a new address back to pending approval.
 */

import { timingSafeEqual } from "node:crypto";
import { isUuid } from "@vela/protocol/ids";
import { z } from "zod";
import { type Host, now } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { ApiFault, conflict } from "../errors/fault.js";
import { claimJoinToken, isJoinToken } from "../hosts/jointokens.js";
import { Int, Name, parseInput, Uuid } from "../input/input.js";
import { Address } from "./AddStorageDomain.js";
import type { CommandDef } from "./command.js";

export const Input = z.object({
  hostUuid: Uuid,
  name: Name.refine((s) => s.length <= 255),
  address: Address,
  port: Int(1, 65535),
  token: z.string().max(1024).optional(),
  capabilities: z.record(z.string(), z.unknown()).optional(),
  /** The node's clock at sending (ms since the epoch); older agents do not send it. */
  time: z.number().int().min(0).max(8.64e15).optional(),
});
type In = z.output<typeof Input>;

interface Plan extends In {
  existing?: Host;
  approved: boolean;
  /** The caller proved to be this very host (its client certificate or enrolled key). */
  proven: boolean;
  clusterId: string;
}

/** What a registration carries: the node's body and the host id its caller proved to be. */
export interface Registration {
  body: unknown;
  provenHost?: string;
}

const approvedStatus = (h: Host) => h.status !== "pending_approval" && h.status !== "installing";

export const MAX_HOST_ID = 250;

/**
 * Whether a registering host is trusted at once: it presents the engine's registration token, or
 * a one-time join token that is free or already its own (hosts/jointokens.ts; a token another
 * host used, or an expired one, is refused with 403 rather than quietly left for approval).
 */
export async function tokenOk(e: Engine, token: string | undefined, hostUuid: unknown): Promise<boolean> {
  if (token === undefined) return false;
  if (isJoinToken(token)) return isUuid(hostUuid) ? claimJoinToken(e.db, token, hostUuid) : false;
  const want = e.cfg.registrationToken;
  if (!want) return false;
  const a = Buffer.from(token);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Smallest free pool host id: it indexes the lease slots on the master domain (1..250). */
async function freeSpmId(e: Engine): Promise<number> {
  const used = new Set((await e.db.selectFrom("hosts").select("spm_id").execute()).map((r) => r.spm_id));
  for (let i = 1; i <= MAX_HOST_ID; i++) if (!used.has(i)) return i;
  throw conflict(`Cannot add Host: all ${MAX_HOST_ID} host ids are in use`);
}

/**
 * SPM leases and the storage mailbox compare times written by different hosts: a host whose clock
 * is far off the engine's is refused (the node logs the answer on every try) until NTP fixes it.
 */
function checkClock(e: Engine, input: In): void {
  if (input.time === undefined) return;
  const skewSec = Math.round((input.time - Date.now()) / 1000);
  if (Math.abs(skewSec) <= e.cfg.maxClockSkewSec) return;
  e.log.warn({ host: input.name, address: input.address, skewSec }, "host refused: its clock is off");
  throw conflict(
    `Cannot register Host ${input.name}: its clock is ${Math.abs(skewSec)} s ${skewSec > 0 ? "ahead of" : "behind"} the engine's (at most ${e.cfg.maxClockSkewSec} s allowed; storage leases depend on it) — synchronize it (chrony or systemd-timesyncd)`,
  );
}

export const RegisterHost: CommandDef<Registration, Plan, Host> = {
  name: "register Host",
  // Nodes re-register every minute: that is bookkeeping, not a job worth listing.
  quiet: true,
  locks: ({ body }) => {
    const id = (body as { hostUuid?: unknown } | null)?.hostUuid;
    return [typeof id === "string" ? `host:${id.toLowerCase().slice(0, 64)}` : "host:register"];
  },
  async validate(e, { body, provenHost }) {
    const input = parseInput(Input, body, "registration", "register");
    checkClock(e, input);
    const caps = JSON.stringify(input.capabilities ?? {});
    if (caps.length > 256 * 1024) throw conflict("capabilities larger than 256 KiB");
    const existing = await e.db.selectFrom("hosts").selectAll().where("id", "=", input.hostUuid).executeTakeFirst();
    const clash = await e.db.selectFrom("hosts").select("id").where("name", "=", input.name).where("id", "!=", input.hostUuid).executeTakeFirst();
    if (clash) throw conflict(`Cannot register Host: the name ${input.name} is used by another host`);
    let clusterId = existing?.cluster_id;
    if (!clusterId) {
      const cl =
        (await e.db.selectFrom("clusters").select("id").where("name", "=", "Default").executeTakeFirst()) ??
        (await e.db.selectFrom("clusters").select("id").orderBy("created_at").executeTakeFirst());
      if (!cl) throw conflict("Cannot register Host: there is no cluster to place it in");
      clusterId = cl.id;
    }
    const proven = provenHost !== undefined && provenHost === input.hostUuid;
    const approved = await tokenOk(e, input.token, input.hostUuid);
    if (existing && approvedStatus(existing) && !approved && !proven && e.pki) {
      e.log.warn({ host: existing.name, id: existing.id, from: input.address }, "re-registration of an approved host refused: no certificate of that host");
      throw new ApiFault(403, "Forbidden", `Host ${existing.name} is approved: it re-registers only with its own client certificate (or the registration token); nothing changed`);
    }
    return { ...input, existing, approved, proven, clusterId };
  },
  describe: (p) => `Registering Host ${p.name}`,
  async execute(e, p) {
    const caps = JSON.stringify(p.capabilities ?? {});
    const at = now();
    if (p.existing) {
      const h = p.existing;
      const moved = h.address !== p.address || h.port !== p.port;
      const wasApproved = approvedStatus(h);
      let status = h.status;
      if (p.approved || (p.proven && wasApproved)) status = h.status === "maintenance" ? "maintenance" : "up";
      else if (moved || !wasApproved) status = "pending_approval";
      else if (h.status !== "maintenance") status = "up";
      await e.db
        .updateTable("hosts")
        .set({ name: p.name, address: p.address, port: p.port, capabilities: caps, status, last_seen: at })
        .where("id", "=", h.id)
        .execute();
      return { ...h, name: p.name, address: p.address, port: p.port, capabilities: caps, status, last_seen: at };
    }
    const row: Host = {
      id: p.hostUuid,
      name: p.name,
      description: "",
      comment: "",
      address: p.address,
      port: p.port,
      cluster_id: p.clusterId,
      status: p.approved ? "up" : "pending_approval",
      spm_id: await freeSpmId(e),
      spm_priority: 5,
      capabilities: caps,
      last_seen: at,
      created_at: at,
      non_operational_reason: null,
    };
    await e.db.insertInto("hosts").values(row).execute();
    return row;
  },
};
