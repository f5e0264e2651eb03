/**
 * Timing a bare operation against Vela's, one of each in turn, so load from other work on the
 * box falls on both alike.
 */

/** Runs `bareOp(i)` then `velaOp(i)` for i < n, each timed on its own; the two totals in ms. */
export async function alternate(n: number, bareOp: (i: number) => unknown, velaOp: (i: number) => Promise<unknown>): Promise<[number, number]> {
  let bare = 0;
  let vela = 0;
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    bareOp(i);
    bare += performance.now() - t;
    t = performance.now();
    await velaOp(i);
    vela += performance.now() - t;
  }
  return [bare, vela];
}
