/**
 * Events and statistics of hosts on a real engine process, without QEMU: a host that stops
 * answering is a "non responsive" event (oVirt code 12) naming it; deactivate/activate are user
 * action events (18, 16); events keep across an engine restart and new ones get higher ids; the
 * XML shape is oVirt's `<events><event id>` with code, severity, time and the host reference;
 * host statistics of a real agent carry its memory, of a silent host zeros; bad paging is a 400.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type Engine, freePort, items, type Node, startEngine, startNode, until } from "./support.js";

const TOKEN = "test-registration-token";
const ENV = { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "200", VELA_ENGINE_VM_POLL_MS: "200" };
let eng: Engine;
const nodes: Node[] = [];

interface Ev {
  id: string;
  code: string;
  severity: string;
  description: string;
  time: string;
  host?: { id: string };
}

before(async () => {
  eng = await startEngine({ env: ENV });
});
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await eng?.stop();
});

const events = async (q = "") => items<Ev>((await eng.api("GET", `/events${q}`)).json, "event");

describe("host events", () => {
  test("a host that stops answering is a non responsive event naming it", async () => {
    const id = randomUUID();
    const res = await fetch(`${eng.url}/vela/v1/hosts/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostUuid: id, name: "silent-ev", address: "127.0.0.1", port: await freePort(), token: TOKEN }),
    });
    assert.equal(res.status, 200, await res.text());
    const ev = await until("non responsive event", async () => (await events()).find((e) => e.code === "12" && e.host?.id === id), 10_000);
    assert.equal(ev.severity, "error");
    assert.match(ev.description, /silent-ev is non responsive/);
    // JSON dates are epoch milliseconds, as oVirt's JSON
    assert.ok(Math.abs(Number(ev.time) - Date.now()) < 60_000, `a current time: ${ev.time}`);
    const st = items<{ name: string; values: { value: { datum: string }[] } }>(await eng.get(`/hosts/${id}/statistics`), "statistic");
    assert.equal(st.find((s) => s.name === "memory.total")?.values.value[0]?.datum, "0", "no sample from a silent host: zeros");
  });

  test("deactivate and activate are user action events; a real agent's statistics carry its memory", async () => {
    const node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "ev-node" });
    nodes.push(node);
    const h = await until("registered", async () => items<{ id: string; status: string }>((await eng.api("GET", "/hosts?search=name%3Dev-node")).json, "host").find((x) => x.status === "up"));
    const mem = await until("host memory figures", async () => {
      const st = items<{ name: string; unit: string; kind: string; values: { value: { datum: string }[] } }>(await eng.get(`/hosts/${h.id}/statistics`), "statistic");
      const total = st.find((s) => s.name === "memory.total");
      return Number(total?.values.value[0]?.datum) > 0 ? total : undefined;
    }, 10_000);
    assert.deepEqual([mem.unit, mem.kind], ["bytes", "gauge"]);
    const xml = await eng.api("GET", `/hosts/${h.id}/statistics`, { accept: "xml" });
    assert.match(xml.text, /<statistics><statistic id="[0-9a-f-]{36}"><name>memory\.total<\/name><description>[^<]+<\/description><kind>gauge<\/kind><type>integer<\/type><unit>bytes<\/unit><values><value><datum>\d+<\/datum><\/value><\/values><host href="[^"]+" id="[0-9a-f-]{36}"\/><\/statistic>/, xml.text.slice(0, 400));
    const last = Number((await events("?max=1"))[0]?.id ?? 0);
    assert.equal((await eng.api("POST", `/hosts/${h.id}/deactivate`, { body: {} })).status, 200);
    assert.equal((await eng.api("POST", `/hosts/${h.id}/activate`, { body: {} })).status, 200);
    const newer = await events(`?from=${last}`);
    assert.deepEqual(newer.filter((e) => e.host?.id === h.id && ["16", "18"].includes(e.code)).map((e) => e.code), ["16", "18"], JSON.stringify(newer));
    assert.ok(newer.every((e) => Number(e.id) > last), "from= gives only newer events");
  });

  test("the XML shape is oVirt's", async () => {
    const res = await eng.api("GET", "/events?max=2", { accept: "xml" });
    assert.equal(res.status, 200);
    assert.match(res.text, /^<\?xml[^>]*>\s*<events>\s*<event href="\/ovirt-engine\/api\/events\/\d+" id="\d+">/, res.text.slice(0, 300));
    assert.match(res.text, /<code>\d+<\/code>/);
    assert.match(res.text, /<severity>(normal|warning|error|alert)<\/severity>/);
    assert.match(res.text, /<time>\d{4}-\d\d-\d\dT[^<]+\+00:00<\/time>/);
    assert.match(res.text, /<host href="\/ovirt-engine\/api\/hosts\/[0-9a-f-]{36}" id="[0-9a-f-]{36}"\/>/);
  });

  test("bad paging and unknown events are faults", async () => {
    for (const q of ["?from=x", "?from=-3", "?from=1e3", "?max=x", `?from=${"9".repeat(20)}`]) {
      const r = await eng.api("GET", `/events${q}`);
      assert.equal(r.status, 400, `${q}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /fault|detail/);
    }
    for (const id of ["0", "424242424", "x", "1;2"]) assert.equal((await eng.api("GET", `/events/${encodeURIComponent(id)}`)).status, 404, id);
  });

  test("events survive an engine restart; new ones get higher ids", async () => {
    const before = await events();
    const top = Number(before[0]?.id ?? 0);
    await eng.stop();
    eng = await startEngine({ home: eng.home, env: ENV });
    const afterRestart = await events();
    assert.deepEqual(afterRestart.slice(-before.length).map((e) => e.id), before.map((e) => e.id).slice(-before.length));
    await eng.api("POST", "/datacenters", { body: { name: `ev-dc-${randomUUID().slice(0, 6)}`, local: false } });
    const newest = await until("a new event", async () => (await events(`?from=${top}`))[0], 10_000);
    assert.ok(Number(newest.id) > top, `${newest.id} > ${top}`);
  });
});
