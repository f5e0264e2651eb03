/**
 * A minimal RFB (VNC) client for tests and benchmarks: the 3.8 handshake, VNC authentication
 * (DES of the server's challenge, RFC 6143 §7.2.2), ClientInit/ServerInit and raw-encoding
 * framebuffer updates — over a plain TCP socket or a WebSocket (noVNC's wire protocol: binary
 * frames carrying the same byte stream). DES is OpenSSL's two-key triple DES with both keys
 * equal (E_k D_k E_k = E_k): Node 20's OpenSSL 3 no longer offers single DES.
 */
import { createCipheriv } from "node:crypto";
import { connect, type Socket } from "node:net";
import WebSocket from "ws";

/** Something that delivers bytes and takes bytes. */
export interface ByteLink {
  write(b: Buffer): void;
  close(): void;
}

/** Buffers incoming bytes and hands out exact-length reads. */
class Reader {
  private chunks: Buffer[] = [];
  private have = 0;
  private waiter?: { n: number; res: (b: Buffer) => void; rej: (e: Error) => void };
  private ended?: Error;

  push(b: Buffer): void {
    this.chunks.push(b);
    this.have += b.length;
    this.wake();
  }

  end(e: Error): void {
    this.ended = e;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.have >= w.n) {
      this.waiter = undefined;
      w.res(this.take(w.n));
    } else if (this.ended) {
      this.waiter = undefined;
      w.rej(this.ended);
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  read(n: number): Promise<Buffer> {
    if (this.have >= n) return Promise.resolve(this.take(n));
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((res, rej) => {
      this.waiter = { n, res, rej };
    });
  }
}

function reverseBits(b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) r |= ((b >> i) & 1) << (7 - i);
  return r;
}

/** The VNC authentication response: DES-ECB of the 16-byte challenge under the password's bit-reversed first 8 bytes. */
export function vncAuthResponse(password: string, challenge: Buffer): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, "latin1").copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) key[i] = reverseBits(key[i] as number);
  const des = createCipheriv("des-ede-ecb", Buffer.concat([key, key]), null);
  des.setAutoPadding(false);
  return Buffer.concat([des.update(challenge), des.final()]);
}

export class RfbClient {
  readonly reader = new Reader();
  width = 0;
  height = 0;
  bpp = 0;
  name = "";

  constructor(private readonly link: ByteLink) {}

  static tcp(port: number, host = "127.0.0.1"): Promise<RfbClient> {
    return new Promise((res, rej) => {
      const s: Socket = connect({ host, port, noDelay: true });
      const c = new RfbClient({ write: (b) => s.write(b), close: () => s.destroy() });
      s.on("data", (b: Buffer) => c.reader.push(b));
      s.on("close", () => c.reader.end(new Error("VNC connection closed")));
      s.once("connect", () => res(c));
      s.once("error", rej);
    });
  }

  /** Opens a WebSocket; rejects with the HTTP status when the upgrade is refused. */
  static ws(url: string): Promise<RfbClient> {
    return new Promise((res, rej) => {
      const ws = new WebSocket(url, ["binary"]);
      ws.binaryType = "nodebuffer";
      const c = new RfbClient({ write: (b) => ws.send(b), close: () => ws.close() });
      ws.on("message", (d: Buffer) => c.reader.push(d));
      ws.on("close", () => c.reader.end(new Error("WebSocket closed")));
      ws.once("open", () => {
        ws.setMaxListeners(20);
        ((ws as unknown as { _socket?: Socket })._socket)?.setNoDelay(true);
        res(c);
      });
      ws.once("unexpected-response", (_req, r) => {
        let body = "";
        r.on("data", (d: Buffer) => (body += d.toString()));
        r.on("end", () => rej(new UpgradeRefused(r.statusCode ?? 0, body)));
      });
      ws.once("error", rej);
    });
  }

  write(b: Buffer): void {
    this.link.write(b);
  }

  close(): void {
    this.link.close();
  }

  /** Reads the server's version greeting ("RFB 003.008\n"). */
  async greeting(): Promise<string> {
    return (await this.reader.read(12)).toString("latin1");
  }

  /**
   * Version, security (VNC authentication with `password`), ClientInit, ServerInit. Resolves on
   * success; rejects with the server's reason when authentication fails.
   */
  async handshake(password: string): Promise<void> {
    const version = await this.greeting();
    if (!version.startsWith("RFB 003.")) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
    this.write(Buffer.from("RFB 003.008\n", "latin1"));
    const n = (await this.reader.read(1))[0] as number;
    if (n === 0) throw new Error(`server refused: ${await this.reason()}`);
    const types = [...(await this.reader.read(n))];
    if (!types.includes(2)) throw new Error(`server offers no VNC authentication (types ${types.join(",")})`);
    this.write(Buffer.from([2]));
    const challenge = await this.reader.read(16);
    this.write(vncAuthResponse(password, challenge));
    const result = (await this.reader.read(4)).readUInt32BE(0);
    if (result !== 0) throw new AuthFailed(await this.reason());
    this.write(Buffer.from([1])); // shared
    const init = await this.reader.read(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    this.bpp = init[4] as number;
    this.name = (await this.reader.read(init.readUInt32BE(20))).toString("utf8");
  }

  private async reason(): Promise<string> {
    const len = (await this.reader.read(4)).readUInt32BE(0);
    return (await this.reader.read(Math.min(len, 4096))).toString("utf8");
  }

  requestUpdate(incremental: boolean): void {
    const m = Buffer.alloc(10);
    m[0] = 3;
    m[1] = incremental ? 1 : 0;
    m.writeUInt16BE(this.width, 6);
    m.writeUInt16BE(this.height, 8);
    this.write(m);
  }

  /**
   * Reads server messages until a FramebufferUpdate has been read whole (raw encoding, the
   * default when the client sets none); returns its rectangle count and bytes of pixel data.
   */
  async readUpdate(): Promise<{ rects: number; bytes: number }> {
    for (;;) {
      const type = (await this.reader.read(1))[0];
      if (type === 0) {
        const hdr = await this.reader.read(3);
        const rects = hdr.readUInt16BE(1);
        let bytes = 0;
        for (let i = 0; i < rects; i++) {
          const r = await this.reader.read(12);
          const w = r.readUInt16BE(4);
          const h = r.readUInt16BE(6);
          const enc = r.readInt32BE(8);
          if (enc === 0) {
            const n = w * h * (this.bpp / 8);
            await this.reader.read(n);
            bytes += n;
          } else if (enc === -223 || enc === -224) {
            // DesktopSize / LastRect pseudo-encodings carry no data.
          } else {
            throw new Error(`unexpected encoding ${enc}`);
          }
        }
        return { rects, bytes };
      }
      if (type === 2) continue; // Bell
      if (type === 3) {
        const h = await this.reader.read(7);
        await this.reader.read(h.readUInt32BE(3));
        continue;
      }
      throw new Error(`unexpected server message type ${type}`);
    }
  }
}

export class AuthFailed extends Error {
  constructor(readonly reason: string) {
    super(`VNC authentication failed: ${reason}`);
    this.name = "AuthFailed";
  }
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`WebSocket upgrade refused: HTTP ${status} ${body}`);
    this.name = "UpgradeRefused";
  }
}
