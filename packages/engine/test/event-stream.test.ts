/**
 * The live event stream the portal subscribes to (/ovirt-engine/services/event-stream, Server-Sent
 * Events) on a real engine process: refused without valid credentials; the administrator hears
 * every event (as `/events` records it) and the jobs of commands; a user with UserRole on one VM
 * hears that VM's events and nothing of another VM or of jobs; signing out ends the stream.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Engine, startEngine, until } from "./support.js";

const STREAM = "/ovirt-engine/services/event-stream";
let eng: Engine;
let cluster = "";
let mine = "";
let other = "";

interface Frame {
  type: string;
  data: Record<string, unknown>;
}

/** An open stream: the frames read so far, and how to stop reading. */
interface Reader {
  frames: Frame[];
  ended: Promise<void>;
  stop: () => void;
}

async function open(auth: string | undefined): Promise<Reader | Response> {
  const ctl = new AbortController();
  const res = await fetch(`${eng.url}${STREAM}`, { headers: auth ? { authorization: auth } : {}, signal: ctl.signal });
  if (res.status !== 200 || !res.body) return res;
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const frames: Frame[] = [];
  const ended = (async () => {
    let buf = "";
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        for (let at = buf.indexOf("\n\n"); at >= 0; at = buf.indexOf("\n\n")) {
          const lines = buf.slice(0, at).split("\n");
          buf = buf.slice(at + 2);
          const type = lines.find((l) => l.startsWith("event: "))?.slice(7);
          const data = lines.find((l) => l.startsWith("data: "))?.slice(6);
          if (type && data) frames.push({ type, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // aborted by stop()
    }
  })();
  return { frames, ended, stop: () => ctl.abort() };
}

async function mustOpen(auth: string): Promise<Reader> {
  const r = await open(auth);
  if (r instanceof Response) throw new Error(`stream refused: HTTP ${r.status} ${await r.text()}`);
  await until("the stream's ready frame", async () => r.frames.some((f) => f.type === "ready") || undefined, 10_000);
  return r;
}

async function token(user: string, password: string): Promise<string> {
  const res = await fetch(`${eng.url}/ovirt-engine/sso/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: user, password }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  assert.ok(body.access_token, `a token for ${user}: HTTP ${res.status}`);
  return body.access_token;
}

const vmEvents = (r: Reader, vm: string) => r.frames.filter((f) => f.type === "event" && f.data.vm === vm);
const show = (r: Reader) => JSON.stringify(r.frames.slice(-8));

before(async () => {
  eng = await startEngine();
  cluster = ((await eng.get<{ cluster: { id: string }[] }>("/clusters")).cluster[0] as { id: string }).id;
  const vm = async (name: string) => (await eng.post<{ id: string }>("/vms", { name, cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 })).id;
  mine = await vm("stream-mine");
  other = await vm("stream-other");
  await eng.post("/users", { user_name: "sam@internal", password: "Sam-Secret-99" });
  const sam = (await eng.get<{ user: { id: string; principal: string }[] }>("/users")).user.find((u) => u.principal === "sam");
  assert.ok(sam, "sam was added");
  await eng.post(`/vms/${mine}/permissions`, { role: { name: "UserRole" }, user: { id: sam.id } });
});
after(async () => eng?.stop());

test("event stream: no credentials, a wrong password or an unknown token are refused with 401", async () => {
  for (const auth of [undefined, `Basic ${Buffer.from("admin@internal:wrong").toString("base64")}`, "Bearer not-a-token"]) {
    const r = await open(auth);
    assert.ok(r instanceof Response, `refused: ${auth ?? "no credentials"}`);
    assert.equal(r.status, 401);
    assert.match(await r.text(), /Authentication required/);
  }
});

test("event stream: the administrator hears each event as /events records it, and the jobs of commands", async () => {
  const s = await mustOpen(`Bearer ${await token(eng.user, eng.password)}`);
  try {
    const made = await eng.post<{ id: string }>("/vms", { name: "stream-new", cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 });
    const ev = await until(`the new VM's event (got ${show(s)})`, async () => vmEvents(s, made.id)[0], 10_000);
    const rec = await eng.get<{ event: { id: string; description: string; code: string }[] }>(`/events?search=vm%3D${made.id}`);
    const same = rec.event.find((x) => x.id === String(ev.data.id));
    assert.ok(same, `the streamed event ${JSON.stringify(ev.data)} is in /events: ${JSON.stringify(rec.event)}`);
    assert.equal(same.description, ev.data.description);
    assert.equal(String(same.code), String(ev.data.code));
    const jobs = s.frames.filter((f) => f.type === "job");
    assert.ok(jobs.some((j) => j.data.status === "started") && jobs.some((j) => j.data.status === "finished" && j.data.progress === 100), `job frames: ${JSON.stringify(jobs)}`);
  } finally {
    s.stop();
  }
});

test("event stream: a user with UserRole on one VM hears that VM only, no jobs; signing out ends the stream", async () => {
  const t = await token("sam@internal", "Sam-Secret-99");
  const s = await mustOpen(`Bearer ${t}`);
  // the other VM changes first, then the user's own: when the own one is heard, the other was filtered out
  await eng.api("PUT", `/vms/${other}`, { body: { description: "changed by the admin" } });
  await eng.api("PUT", `/vms/${mine}`, { body: { description: "changed by the admin" } });
  await until(`sam hears their VM (got ${show(s)})`, async () => vmEvents(s, mine)[0], 10_000);
  assert.deepEqual(vmEvents(s, other), [], "nothing of the other VM");
  assert.deepEqual(s.frames.filter((f) => f.type === "job"), [], "no jobs: they are the administrators'");
  assert.ok(s.frames.every((f) => f.type === "ready" || f.data.vm === mine), `only their VM: ${show(s)}`);
  await fetch(`${eng.url}/ovirt-engine/services/sso-logout?token=${encodeURIComponent(t)}`, { method: "POST" });
  await until("the end frame", async () => s.frames.find((f) => f.type === "end"), 5_000);
  await s.ended;
  const again = await open(`Bearer ${t}`);
  assert.ok(again instanceof Response && again.status === 401, "the revoked token opens no stream");
});
