/**
 * What one authenticated user may do: their permissions (given to them or to a group they are
 * in), loaded once per request, answering "may they do action group G on object O" (a
 * permission on O or on anything above it whose role holds G), "are they an administrator"
 * (any administrative role anywhere: opens the admin view) and "may they see O" in the user
 * view (a permission on O or above it, or O holds something they have a permission on).
 *
 * Read per request through kept.ts (kept across requests under the database's permission
 * generation), so a granted or revoked permission counts from the next request on. The
 * tree above the objects asked about is read in batches and remembered for the request: a check
 * costs a query per tree level however many objects it covers (a list of 10,000 VMs filtered
 * for the user view, a user holding thousands of permissions), and nothing when the permit is
 * held on the system itself (administrators).
 */
import type { Engine } from "../engine.js";
import { roleFromRow } from "./custom-roles.js";
import { type UserRows, userRows } from "./kept.js";
import { type ActionGroup, roleById } from "./roles.js";
import { key, type ObjectType, type ObjRef, parentsOf, relatedTypes, SYSTEM } from "./tree.js";

/** The authenticated user, as the API knows them. */
export interface Principal {
  id: string;
  /** An internal principal's name without domain (alice, admin); a directory user's whole user name (alice@corp). */
  name: string;
}

/** user@domain, as events and tickets name the user. */
export function userNameOf(p: Principal): string {
  return p.name.includes("@") ? p.name : `${p.name}@internal`;
}

interface Held {
  object: ObjRef;
  permits: ReadonlySet<ActionGroup>;
  administrative: boolean;
}

/** One permit set per role, shared by every permission of that role. */
const permitSets = new Map<string, ReadonlySet<ActionGroup>>();

function permitsOf(role: { id: string; permits: readonly ActionGroup[]; mutable?: boolean }): ReadonlySet<ActionGroup> {
  // a custom role's permits may change: its set is made per request
  if (role.mutable) return new Set(role.permits);
  let s = permitSets.get(role.id);
  if (!s) {
    s = new Set(role.permits);
    permitSets.set(role.id, s);
  }
  return s;
}

interface Loaded {
  all: Held[];
  /** Held permissions by object key. */
  byObject: Map<string, Held[]>;
}

export class Access {
  private stored?: Promise<UserRows>;
  private held?: Promise<Loaded>;
  private upward?: Promise<Set<string>>;
  /** Direct parents of every object looked at in this request. */
  private readonly parents = new Map<string, ObjRef[]>();

  constructor(
    readonly engine: Engine,
    readonly user: Principal,
  ) {}

  /**
   * The user's permission rows, groups and custom roles: kept across requests under the
   * database's permission generation (kept.ts), so a request whose generation has not moved
   * reads one row instead of three queries.
   */
  private rows(): Promise<UserRows> {
    this.stored ??= userRows(this.engine.db, this.user.id, async () => {
      const groups = (await this.engine.db.selectFrom("group_members").select("group_id").where("user_id", "=", this.user.id).execute()).map((g) => g.group_id);
      let q = this.engine.db.selectFrom("permissions").select(["role_id", "object_type", "object_id"]);
      q = groups.length ? q.where((w) => w.or([w("user_id", "=", this.user.id), w("group_id", "in", groups)])) : q.where("user_id", "=", this.user.id);
      const rows = await q.execute();
      const wanted = [...new Set(rows.map((r) => r.role_id))].filter((id) => !roleById(id));
      const roles = wanted.length ? await this.engine.db.selectFrom("roles").selectAll().where("id", "in", wanted).execute() : [];
      return { groups, rows, roles };
    });
    return this.stored;
  }

  private load(): Promise<Loaded> {
    this.held ??= (async () => {
      const { rows, roles } = await this.rows();
      const custom = new Map(roles.map((r) => [r.id, roleFromRow(r)]));
      const all: Held[] = [];
      const byObject = new Map<string, Held[]>();
      for (const r of rows) {
        const role = roleById(r.role_id) ?? custom.get(r.role_id);
        if (!role) continue; // a role that no longer exists grants nothing
        const h: Held = { object: { type: r.object_type as ObjectType, id: r.object_id }, permits: permitsOf(role), administrative: role.administrative };
        all.push(h);
        const k = key(h.object);
        const at = byObject.get(k);
        if (at) at.push(h);
        else byObject.set(k, [h]);
      }
      return { all, byObject };
    })();
    return this.held;
  }

  /** The groups the user is a member of. */
  async groupIds(): Promise<string[]> {
    return (await this.rows()).groups;
  }

  /** May the user start a session: do they hold the `login` permit anywhere (every role holds it)? */
  async mayLogIn(): Promise<boolean> {
    return (await this.load()).all.some((h) => h.permits.has("login"));
  }

  async isAdmin(): Promise<boolean> {
    return (await this.load()).all.some((h) => h.administrative);
  }

  /** Reads the parents of everything above `objs` not known yet, one batch per tree level. */
  private async climb(objs: ObjRef[]): Promise<void> {
    let frontier = objs.filter((o) => !this.parents.has(key(o)));
    while (frontier.length) {
      const got = await parentsOf(this.engine, frontier);
      const next = new Map<string, ObjRef>();
      for (const [k, ps] of got) {
        this.parents.set(k, ps);
        for (const p of ps) if (!this.parents.has(key(p))) next.set(key(p), p);
      }
      frontier = [...next.values()];
    }
  }

  /** Is any of `o` and the objects above it (already climbed) in `hit`? */
  private reaches(o: ObjRef, hit: (k: string) => boolean): boolean {
    const seen = new Set<string>();
    const stack = [o];
    while (stack.length) {
      const x = stack.pop() as ObjRef;
      const k = key(x);
      if (seen.has(k)) continue;
      seen.add(k);
      if (hit(k)) return true;
      stack.push(...(this.parents.get(k) ?? []));
    }
    return false;
  }

  /** May the user do `group` on `o`? */
  async can(group: ActionGroup, o: ObjRef): Promise<boolean> {
    const { all, byObject } = await this.load();
    const holding = all.filter((h) => h.permits.has(group));
    if (!holding.length) return false;
    if (holding.some((h) => h.object.type === "system")) return true;
    // held on the object itself (a user's own VM): no need to read the tree above it
    if ((byObject.get(key(o)) ?? []).some((h) => h.permits.has(group))) return true;
    // held on nothing that can be above it: no need to read the tree either
    const related = relatedTypes(o.type);
    if (!holding.some((h) => related.has(h.object.type))) return false;
    await this.climb([o]);
    return this.reaches(o, (k) => (byObject.get(k) ?? []).some((h) => h.permits.has(group)));
  }

  /** Does the user hold a permission on the system itself (any role)? */
  async holdsSystem(): Promise<boolean> {
    return (await this.load()).byObject.has(key(SYSTEM));
  }

  /** Does the user hold an administrative role on the system itself (sees and administers everything)? */
  async administersSystem(): Promise<boolean> {
    return ((await this.load()).byObject.get(key(SYSTEM)) ?? []).some((h) => h.administrative);
  }

  /** May the user see `o` in the user view? */
  async sees(o: ObjRef): Promise<boolean> {
    return (await this.seesMany([o]))[0] === true;
  }

  /** `sees` for many objects at once (a collection in the user view): one batch per tree level. */
  async seesMany(objs: ObjRef[]): Promise<boolean[]> {
    const { all, byObject } = await this.load();
    if (!all.length) return objs.map(() => false);
    if (byObject.has(key(SYSTEM))) return objs.map(() => true);
    // every object held itself (a user's own VM): no need to read the tree above them
    if (objs.every((o) => byObject.has(key(o)))) return objs.map(() => true);
    // nothing held above or below these types: an object is seen only if held itself
    const heldTypes = new Set(all.map((h) => h.object.type));
    const types = new Set(objs.map((o) => o.type));
    if ([...types].every((t) => ![...relatedTypes(t)].some((r) => heldTypes.has(r)))) return objs.map((o) => byObject.has(key(o)));
    await this.climb(objs);
    const direct = objs.map((o) => this.reaches(o, (k) => byObject.has(k)));
    if (direct.every(Boolean)) return direct; // no need to climb above everything the user holds
    const up = await this.containers();
    return objs.map((o, i) => direct[i] === true || up.has(key(o)));
  }

  /** Everything above the objects the user holds permissions on (their VM's cluster and data center). */
  private containers(): Promise<Set<string>> {
    this.upward ??= (async () => {
      const { all } = await this.load();
      const objs = all.map((h) => h.object);
      await this.climb(objs);
      const out = new Set<string>();
      const stack = [...objs];
      while (stack.length) {
        const x = stack.pop() as ObjRef;
        if (out.has(key(x))) continue;
        out.add(key(x));
        stack.push(...(this.parents.get(key(x)) ?? []));
      }
      return out;
    })();
    return this.upward;
  }
}
