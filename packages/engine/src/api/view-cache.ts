/**
 * Views kept across requests, keyed by the row they were made from: a view is a pure function
 * of its row (views.ts), so a cached one is reused only while the row reads the same — any change
 * to the row, whoever made it (a command, a monitor, another process on the same database), gives
 * a new fingerprint and a new view. Nothing has to be told to invalidate. Kept views are sealed
 * (repr.ts), so their XML and JSON are rendered once too. Bounded: beyond `max` rows the oldest
 * entries go.
 */
import { type Rep, sealed } from "./repr.js";

/** The row's content as one string; length-prefixed so that no two different rows give the same one. */
export function fingerprint(row: object): string {
  let out = "";
  for (const v of Object.values(row)) {
    if (v === null || v === undefined) out += "~";
    else if (typeof v === "string") out += `${v.length}:${v}`;
    else out += `#${String(v)};`;
  }
  return out;
}

export class ViewCache<R extends { id: string }> {
  private readonly byId = new Map<string, { fp: string; rep: Rep }>();

  constructor(
    private readonly view: (row: R) => Rep,
    private readonly max = 50_000,
  ) {}

  /** The row's view, sealed: the kept one while the row is unchanged, else a new one. */
  get(row: R): Rep {
    const fp = fingerprint(row);
    const hit = this.byId.get(row.id);
    if (hit && hit.fp === fp) return hit.rep;
    const rep = sealed(this.view(row));
    if (hit) this.byId.delete(row.id);
    else if (this.byId.size >= this.max) this.byId.delete(this.byId.keys().next().value as string);
    this.byId.set(row.id, { fp, rep });
    return rep;
  }

  /** Forgets rows that are gone (called with every id a full list saw). */
  keepOnly(ids: ReadonlySet<string>): void {
    for (const id of this.byId.keys()) if (!ids.has(id)) this.byId.delete(id);
  }
}
