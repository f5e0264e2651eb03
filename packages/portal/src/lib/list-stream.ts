/**
 * A long collection read in pieces as it arrives. `JSON.parse` of the whole answer of 10,000 VMs
 * (~29 MB) held the page's thread for about a second right after the first rows were painted:
 * no scrolling, no clicks. Here the answer's bytes are scanned as they come for the members of
 * one array (`{"vm": [{…}, {…}, …]}`), and each batch of members is parsed by `JSON.parse` on
 * its own, the page's thread given back between batches. The scan only finds where each member
 * starts and ends (string-, escape- and nesting-aware); parsing stays native.
 */

/** Splits the members (objects) of the array under one key of a JSON object, fed in pieces. */
export class MemberScanner {
  private buf = "";
  private pos = 0;
  private depth = 0;
  private inString = false;
  /** Start of the member being read (index in buf), or -1. */
  private start = -1;
  /** Start of the string being read at the object's top level (a key), or -1. */
  private keyStart = -1;
  private lastKey = "";
  private collecting = false;

  constructor(private readonly key: string) {}

  /** Feeds the next piece of text; returns the text of every member completed by it. */
  push(text: string): string[] {
    const b = this.buf + text;
    const out: string[] = [];
    let i = this.pos;
    while (i < b.length) {
      if (this.inString) {
        const q = b.indexOf('"', i);
        if (q < 0) {
          i = b.length;
          break;
        }
        i = q + 1;
        let slashes = 0;
        for (let k = q - 1; k >= 0 && b.charCodeAt(k) === 92; k--) slashes++;
        if (slashes % 2 === 0) {
          this.inString = false;
          if (this.keyStart >= 0) this.lastKey = b.slice(this.keyStart, q);
          this.keyStart = -1;
        }
        continue;
      }
      const c = b.charCodeAt(i);
      if (c === 34) {
        this.inString = true;
        this.keyStart = this.depth === 1 ? i + 1 : -1;
      } else if (c === 123 || c === 91) {
        this.depth++;
        if (this.depth === 2) this.collecting = c === 91 && this.lastKey === this.key;
        else if (this.depth === 3 && this.collecting && c === 123) this.start = i;
      } else if (c === 125 || c === 93) {
        if (this.depth === 3 && this.start >= 0) {
          out.push(b.slice(this.start, i + 1));
          this.start = -1;
        }
        if (this.depth === 2) this.collecting = false;
        this.depth--;
      }
      i++;
    }
    // Keep only what is still needed: the unfinished member, or the unfinished key.
    const keep = this.start >= 0 ? this.start : this.keyStart >= 0 ? this.keyStart : i;
    this.buf = b.slice(keep);
    this.pos = i - keep;
    if (this.start >= 0) this.start -= keep;
    if (this.keyStart >= 0) this.keyStart -= keep;
    return out;
  }
}

/** Gives the page's thread back (a task boundary; not throttled like timers in busy pages). */
function yieldToPage(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

/** How many members one `JSON.parse` takes: a few ms of the page's thread each. */
const BATCH = 250;

/**
 * The members of `key` in a JSON answer's body, parsed a batch at a time with the page's thread
 * given back between batches.
 */
export async function readMembers<T>(body: ReadableStream<Uint8Array>, key: string): Promise<T[]> {
  const scanner = new MemberScanner(key);
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const out: T[] = [];
  let pending: string[] = [];
  const flush = async (): Promise<void> => {
    while (pending.length > 0) {
      const batch = pending.slice(0, BATCH);
      pending = pending.slice(BATCH);
      for (const m of JSON.parse(`[${batch.join(",")}]`) as T[]) out.push(m);
      await yieldToPage();
    }
  };
  for (;;) {
    const { done, value } = await reader.read();
    const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    pending.push(...scanner.push(text));
    if (pending.length >= BATCH || done) await flush();
    if (done) return out;
  }
}
