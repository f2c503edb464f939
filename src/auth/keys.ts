/**
 * Per-sandbox keys of the authorization server, generated once and stored in the database
 * (no default secrets): the RSA key signing id_tokens (RS256, SMART 2.2 §"sso-openid-connect"),
 * the cookie-signing keys, and the initial access token of dynamic registration.
 */
import crypto from 'node:crypto';
import type { AuthKeyStore } from '../storage/auth-stores.js';
import { randomSecret } from './secrets.js';

export type PrivateJwk = crypto.JsonWebKey & { kid: string; alg: string; use: string };

/** RFC 7638 thumbprint of an RSA public key: sha256 over the required members in lexicographic order. */
function rsaThumbprint(jwk: crypto.JsonWebKey): string {
  return crypto.createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })).digest('base64url');
}

function newRsaKey(): PrivateJwk {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: rsaThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

/** The signing JWKS (private), newest key first: oidc-provider signs with the first matching key. */
export async function signingJwks(store: AuthKeyStore, sandboxKey: number): Promise<{ keys: PrivateJwk[] }> {
  return JSON.parse(await store.getOrCreate(sandboxKey, 'jwks', () => JSON.stringify({ keys: [newRsaKey()] })));
}

/**
 * `keys rotate` (docs/architecture.md §4): a new signing key becomes the first (signing) key; the previous
 * one stays published so that id_tokens it signed still verify; older ones are dropped. Providers
 * already built keep their keys until they are rebuilt (AuthService.rotateKeys drops the cache; other
 * nodes notice the new key through the keys' version stamp in AuthService.providerFor).
 */
export async function rotateSigningKeys(store: AuthKeyStore, sandboxKey: number): Promise<{ keys: PrivateJwk[] }> {
  const current = await signingJwks(store, sandboxKey);
  const next = { keys: [newRsaKey(), ...current.keys.slice(0, 1)] };
  // Cookie keys first: a node that sees the new `jwks` stamp then loads the new cookie keys too.
  const cookies = await cookieKeys(store, sandboxKey);
  await store.set(sandboxKey, 'cookie-keys', JSON.stringify([randomSecret(), ...cookies.slice(0, 1)]));
  await store.set(sandboxKey, 'jwks', JSON.stringify(next));
  return next;
}

/** Keys signing the session and interaction cookies (first signs, all verify). */
export async function cookieKeys(store: AuthKeyStore, sandboxKey: number): Promise<string[]> {
  return JSON.parse(await store.getOrCreate(sandboxKey, 'cookie-keys', () => JSON.stringify([randomSecret()])));
}

/** The bearer token the sandbox admin gives to apps that may register themselves (RFC 7591 §3). */
export function registrationToken(store: AuthKeyStore, sandboxKey: number): Promise<string> {
  return store.getOrCreate(sandboxKey, 'registration-token', () => randomSecret());
}
