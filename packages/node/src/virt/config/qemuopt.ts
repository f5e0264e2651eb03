/**
 * QEMU's "key=value,key=value" option syntax. A value containing a comma must have it doubled,
 * or it would end the value and start a new key: every value Vela puts into such an option goes
 * through `optValue`. Newline and NUL never reach here (refused at the edge).
 */

export function optValue(v: string): string {
  return v.replaceAll(",", ",,");
}

/** `path=<value>` as it appears in a chardev option (also used to recognise our processes). */
export function pathOpt(path: string): string {
  return `path=${optValue(path)}`;
}
