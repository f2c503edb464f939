/**
 * Hashing of client secrets and persona passwords, and generation of random secrets.
 *
 * scrypt with N=2^11 (r=8, p=1) costs about 3 ms on our 2-core machine: enough to make offline
 * guessing of a stolen hash expensive compared to a plain hash, cheap enough that it does not
 * dominate the login or token path (brief: "a few ms at most"). The parameters travel in the hash
 * string, so they can be raised later without invalidating stored hashes.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (pw: string, salt: Buffer, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;
const N = 2048;
const R = 8;
const P = 1;
const KEY_LEN = 32;

/** `scrypt$N$r$p$salt$hash` (base64url parts). */
export function hashSecret(secret: string): string {
  const salt = crypto.randomBytes(16);
  const hash = crypto.scryptSync(secret, salt, KEY_LEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * Successful verifications, remembered as HMACs (under a per-process random key) of the stored hash
 * and the presented secret, so that a client authenticating on every token or introspection call
 * pays scrypt once per process, not per request. No secret is kept; a changed secret has a new
 * stored hash and so never matches an old entry. Bounded: cleared when full.
 */
const VERIFIED_KEY = crypto.randomBytes(32);
const verified = new Set<string>();
const VERIFIED_MAX = 10_000;
const verifiedTag = (stored: string, secret: string) => crypto.createHmac('sha256', VERIFIED_KEY).update(stored).update('\0').update(secret).digest('base64url');

/** Constant-time check of `secret` against a stored hash; false for any malformed hash. */
export async function verifySecret(stored: string | undefined, secret: unknown): Promise<boolean> {
  if (typeof stored !== 'string' || typeof secret !== 'string' || secret.length === 0 || secret.length > 1024) return false;
  const tag = verifiedTag(stored, secret);
  if (verified.has(tag)) return true;
  const ok = await verifyScrypt(stored, secret);
  if (ok) {
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.add(tag);
  }
  return ok;
}

async function verifyScrypt(stored: string, secret: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  if (!Number.isInteger(n) || !Number.isInteger(r) || !Number.isInteger(p) || n > 1 << 16 || r > 16 || p > 4) return false;
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (expected.length !== KEY_LEN) return false;
  const actual = await scrypt(secret, salt, KEY_LEN, { N: n, r, p });
  return crypto.timingSafeEqual(actual, expected);
}

/** A random secret with `bytes` bytes of entropy, base64url (URL- and form-safe). */
export function randomSecret(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

/** A human-typeable random password (about 95 bits): four groups of lowercase letters and digits. */
export function randomPassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const out: string[] = [];
  for (let g = 0; g < 4; g++) {
    let group = '';
    for (let i = 0; i < 5; i++) group += alphabet[crypto.randomInt(alphabet.length)];
    out.push(group);
  }
  return out.join('-');
}
