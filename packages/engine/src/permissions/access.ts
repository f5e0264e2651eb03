/**
 * What one authenticated user may do: their permissions (given to them or to a group they are
 * in), loaded once per request, answering "may they do action group G on object O" (a
 * permission on O or on anything above it whose role holds G), "are they an administrator"
 * (any administrative role anywhere: opens the admin view) and "may they see O" in the user
 * view (a permission on O or above it, or O holds something they have a permission on).
 */
import type { Engine } from "../engine.js";
import { type ActionGroup, roleById } from "./roles.js";
import { ancestors, key, type ObjRef } from "./tree.js";

/** The authenticated user, as the API knows them. */
export interface Principal {
  id: string;
  /** The principal's name without domain (alice, admin). */
  name: string;
}

interface Held {
  object: ObjRef;
  permits: ReadonlySet<ActionGroup>;
  administrative: boolean;
}

export class Access {
  private held?: Promise<Held[]>;
  private groups?: Promise<string[]>;
  private upward?: Promise<Set<string>>;

  constructor(
    readonly engine: Engine,
    readonly user: Principal,
  ) {}

  private load(): Promise<Held[]> {
    this.held ??= (async () => {
      const gids = await this.groupIds();
      let q = this.engine.db.selectFrom("permissions").selectAll();
      q = gids.length ? q.where((w) => w.or([w("user_id", "=", this.user.id), w("group_id", "in", gids)])) : q.where("user_id", "=", this.user.id);
      const rows = await q.execute();
      const out: Held[] = [];
      for (const r of rows) {
        const role = roleById(r.role_id);
        if (!role) continue; // a role that no longer exists grants nothing
        out.push({ object: { type: r.object_type as ObjRef["type"], id: r.object_id }, permits: new Set(role.permits), administrative: role.administrative });
      }
      return out;
    })();
    return this.held;
  }

  /** The groups the user is a member of. */
  groupIds(): Promise<string[]> {
    this.groups ??= this.engine.db
      .selectFrom("group_members")
      .select("group_id")
      .where("user_id", "=", this.user.id)
      .execute()
      .then((rows) => rows.map((g) => g.group_id));
    return this.groups;
  }

  async isAdmin(): Promise<boolean> {
    return (await this.load()).some((h) => h.administrative);
  }

  /** May the user do `group` on `o`? */
  async can(group: ActionGroup, o: ObjRef): Promise<boolean> {
    const held = (await this.load()).filter((h) => h.permits.has(group));
    if (!held.length) return false;
    const above = new Set((await ancestors(this.engine, o)).map(key));
    return held.some((h) => above.has(key(h.object)));
  }

  /** May the user see `o` in the user view? */
  async sees(o: ObjRef): Promise<boolean> {
    const held = await this.load();
    if (!held.length) return false;
    const mine = new Set(held.map((h) => key(h.object)));
    if ((await ancestors(this.engine, o)).some((a) => mine.has(key(a)))) return true;
    return (await this.containers()).has(key(o));
  }

  /** Everything above the objects the user holds permissions on (their VM's cluster and data center). */
  private containers(): Promise<Set<string>> {
    this.upward ??= (async () => {
      const out = new Set<string>();
      for (const h of await this.load()) for (const a of await ancestors(this.engine, h.object)) out.add(key(a));
      return out;
    })();
    return this.upward;
  }
}
