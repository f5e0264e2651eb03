/**
 * Password hashing (scrypt from node:crypto, a random salt per hash, parameters stored with the
 * hash so they can be raised later) and the password policy. Never logs or returns a password.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 1024;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((res, rej) =>
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 128 * n * r * 2 }, (err, key) => (err ? rej(err) : res(key))),
  );
}

/** `scrypt$N$r$p$salt$hash` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return ["scrypt", N, R, P, salt.toString("base64url"), key.toString("base64url")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split("$");
  if (kind !== "scrypt" || !salt || !hash) return false;
  const want = Buffer.from(hash, "base64url");
  const got = await derive(password, Buffer.from(salt, "base64url"), Number(n), Number(r), Number(p));
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Why a password is refused, or undefined when it is acceptable. */
export function weakPassword(password: string, user: string): string | undefined {
  if (password.length === 0) return "the password is empty";
  if (password.length < MIN_PASSWORD) return `the password is shorter than ${MIN_PASSWORD} characters`;
  if (password.length > MAX_PASSWORD) return `the password is longer than ${MAX_PASSWORD} characters`;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 2) return "the password needs at least two of: lower case, upper case, digits, other characters";
  if (password.toLowerCase() === user.toLowerCase()) return "the password is the user name";
  return undefined;
}
