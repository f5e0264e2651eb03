/**
 * Kept views render exactly as fresh ones (issue 12's list speed-up): a sealed tree's remembered
 * XML and JSON, a copy of it that gained members (follow=), and the view cache that reuses a view
 * only while its row reads the same; a kept list's gzip form.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { collection, copyOf, keptGzip, type Rep, sealed, toJson, toXml } from "../src/api/repr.js";
import { acceptsGzip } from "../src/api/server.js";
import { ViewCache } from "../src/api/view-cache.js";
import { vmView } from "../src/api/views.js";
import type { Vm } from "../src/db/schema.js";

function row(i: number, over: Partial<Vm> = {}): Vm {
  return {
    id: randomUUID(),
    name: `vm-${i}`,
    description: i % 2 ? "" : `d<&>"${i}`,
    comment: "",
    cluster_id: randomUUID(),
    template_id: "00000000-0000-0000-0000-000000000000",
    memory: 2 ** 30,
    cpu_sockets: 1,
    cpu_cores: 2,
    cpu_threads: 1,
    os_type: "other_linux",
    boot_devices: '["hd"]',
    display_type: "vnc",
    status: "down",
    created_at: new Date(1_700_000_000_000 + i).toISOString(),
    ...over,
  } as Vm;
}

test("sealed views, and copies of them that gained members, render byte for byte as fresh trees", () => {
  const rows = Array.from({ length: 20 }, (_, i) => row(i));
  const fresh = collection("vm", rows.map(vmView));
  const kept = collection("vm", rows.map((r) => sealed(vmView(r))));
  for (let pass = 0; pass < 2; pass++) {
    // the second pass is served from the remembered fragments
    assert.equal(toJson(kept), toJson(fresh));
    assert.equal(toXml("vms", kept), toXml("vms", fresh));
  }
  const extra = { disk_attachment: [{ href: "/x", id: "a" }] };
  const grown = collection("vm", (kept.vm as Rep[]).map((v) => Object.assign(copyOf(v), { disk_attachments: extra })));
  const grownFresh = collection("vm", rows.map((r) => ({ ...vmView(r), disk_attachments: extra })));
  assert.equal(toJson(grown), toJson(grownFresh));
  assert.equal(toXml("vms", grown), toXml("vms", grownFresh));
  // a copy whose own member was replaced is rendered in full, not from the original's text
  const changed = copyOf((kept.vm as Rep[])[0] as Rep);
  changed.name = "other";
  assert.match(toJson(changed), /"name":"other"/);
  assert.match(toXml("vm", changed), /<name>other<\/name>/);
  assert.throws(() => {
    ((kept.vm as Rep[])[0] as Rep).name = "x";
  }, TypeError, "sealed trees are frozen");
});

test("the view cache reuses a view while its row is unchanged and makes a new one when any column changes", () => {
  const cache = new ViewCache<Vm>(vmView);
  const r = row(1);
  const a = cache.get({ ...r });
  assert.equal(cache.get({ ...r }), a, "same row, same view");
  for (const over of [{ status: "up" }, { description: "new" }, { cmdline: "" }, { memory: 2 ** 31 }] as Partial<Vm>[]) {
    const b = cache.get({ ...r, ...over });
    assert.notEqual(b, a, `changed ${JSON.stringify(over)}`);
    assert.equal(toJson(b), toJson(vmView({ ...r, ...over })));
  }
  // null and "" differ (a view may show one and not the other)
  const withNull = cache.get({ ...r, cmdline: null } as Vm);
  const withEmpty = cache.get({ ...r, cmdline: "" } as Vm);
  assert.notEqual(withNull, withEmpty);
  cache.keepOnly(new Set());
  assert.notEqual(cache.get({ ...r }), a, "forgotten rows are made again");
});

test("a kept list (a sealed collection of sealed views) renders as a fresh one, under each root name; its gzip form is the same text", async () => {
  const rows = Array.from({ length: 30 }, (_, i) => row(i));
  const fresh = collection("vm", rows.map(vmView));
  const kept = sealed(collection("vm", rows.map((r) => sealed(vmView(r)))));
  for (let pass = 0; pass < 2; pass++) {
    assert.equal(toJson(kept), toJson(fresh));
    assert.equal(toXml("vms", kept), toXml("vms", fresh));
    // another root name is not served from the first one's kept document
    assert.equal(toXml("other", kept), toXml("other", fresh));
  }
  const gz = keptGzip(kept, { json: true });
  assert.ok(gz, "a kept tree has a gzip form");
  assert.equal(gunzipSync(await gz).toString("utf8"), toJson(fresh));
  assert.equal(keptGzip(kept, { json: true }), gz, "compressed once");
  const gx = keptGzip(kept, { json: false, root: "vms" });
  assert.equal(gunzipSync(await (gx as Promise<Buffer>)).toString("utf8"), toXml("vms", fresh));
  assert.equal(keptGzip(fresh, { json: true }), undefined, "a one-off tree is not compressed");
  // the header the server reads it by
  for (const [h, ok] of [["gzip, deflate", true], ["br;q=1.0, gzip;q=0.5", true], ["gzip;q=0", false], ["identity", false], [undefined, false], ["x-gzip", true]] as const)
    assert.equal(acceptsGzip(h), ok, `Accept-Encoding: ${h}`);
});
