/** Absolute hrefs, references, links and action lists of the v4 API. Pure functions. */
import type { Rep } from "./repr.js";

export const API = "/ovirt-engine/api";

export function href(...parts: string[]): string {
  return [API, ...parts].join("/");
}

/** A reference to another object: `<cluster href id/>`. */
export function ref(coll: string, id: string | null | undefined): Rep | undefined {
  return id ? { href: href(coll, id), id } : undefined;
}

export function links(base: string, rels: string[]): Rep[] {
  return rels.map((rel) => ({ href: `${base}/${rel}`, rel }));
}

export function actions(base: string, names: string[]): Rep {
  return { link: links(base, names) };
}
