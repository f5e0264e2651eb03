/** Free TCP ports for the processes a test starts. */
import { createServer } from "node:net";

/**
 * A free TCP port below Linux's ephemeral range (32768–60999). Ports from `listen(0)` come from
 * that range, where the kernel also picks the local ports of outgoing connections and of other
 * tests' `listen(0)`: a node restarted on its old port then found it taken (EADDRINUSE, seen in
 * CI). Below the range only another random pick can collide, and the bind checks that.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  throw new Error("no free port below the ephemeral range");
}

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}
