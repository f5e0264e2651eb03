/**
 * The portal's piecewise reader of long lists (packages/portal/src/lib/list-stream.ts), built
 * with the portal's own bundler and run here on Node's web streams: the members it finds in an
 * answer cut into arbitrary pieces are exactly what JSON.parse finds in the whole, whatever the
 * strings hold (braces, brackets, escaped quotes and backslashes, non-ASCII split across pieces).
 * The portal tests drive it in the browser through the VM list.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));

interface ListStream {
  MemberScanner: new (key: string) => { push(text: string): string[] };
  readMembers<T>(body: ReadableStream<Uint8Array>, key: string): Promise<T[]>;
}
let mod: ListStream;

before(async () => {
  const src = resolve(here, "../../../portal/src/lib/list-stream.ts");
  const out = await build({ entryPoints: [src], bundle: true, format: "esm", platform: "neutral", write: false, logLevel: "silent" });
  const file = join(mkdtempSync(join(tmpdir(), "vela-list-stream-")), "list-stream.mjs");
  writeFileSync(file, out.outputFiles[0]?.text ?? "");
  mod = (await import(pathToFileURL(file).href)) as ListStream;
});

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

const nasty = ['a"b', "x\\", "\\\\", '{"not":"a member"}', "[1,{2}]", "}", "]", "漢字🙂é", "", "\\u0022", 'end\\"'];

function sample(n: number, r: () => number): { answer: string; members: unknown[] } {
  const members = Array.from({ length: n }, (_, i) => ({
    id: `id-${i}`,
    name: nasty[Math.floor(r() * nasty.length)],
    nested: { list: [nasty[i % nasty.length], { deep: [[], {}] }], n: i },
    empty: {},
  }));
  // other members of the answer before and after the array: only the array's members count
  return { answer: JSON.stringify({ before: { vm: ["decoy"] }, vm: members, after: [{ vm: 1 }] }), members };
}

function pieces(text: string, r: () => number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(r() * 40);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

test("members found in pieces are those of the whole answer, for any cut (200 seeds)", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const r = rng(seed);
    const { answer, members } = sample(1 + Math.floor(r() * 30), r);
    const scanner = new mod.MemberScanner("vm");
    const found: unknown[] = [];
    for (const p of pieces(answer, r)) for (const m of scanner.push(p)) found.push(JSON.parse(m));
    assert.deepEqual(found, members, `seed ${seed}: ${answer.slice(0, 200)}`);
  }
});

test("an empty collection, another key, and an answer without the key give no members", () => {
  for (const [answer, want] of [["{}", 0], ['{"vm":[]}', 0], ['{"host":[{"id":"h"}]}', 0], ['{"vm":[{"id":"a"}]}', 1]] as const) {
    const s = new mod.MemberScanner("vm");
    assert.equal(s.push(answer).length, want, answer);
  }
});

test("readMembers: a byte stream cut inside multi-byte characters, 3,000 members, all parsed in order", async () => {
  const r = rng(7);
  const { answer, members } = sample(3000, r);
  const bytes = new TextEncoder().encode(answer);
  const body = new ReadableStream<Uint8Array>({
    start(ctl) {
      // cuts at odd byte offsets land inside the UTF-8 of 漢字🙂é
      for (let i = 0; i < bytes.length; i += 997) ctl.enqueue(bytes.slice(i, i + 997));
      ctl.close();
    },
  });
  const got = await mod.readMembers<unknown>(body, "vm");
  assert.equal(got.length, members.length);
  assert.deepEqual(got, members);
});
