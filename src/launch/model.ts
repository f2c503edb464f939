/**
 * The launch-context model shared by the registration service (src/launch), the authorization server
 * (src/auth) and the console. A launch is registered by an external system and redeemed by one app
 * at `/authorize` (architecture §5).
 */
import crypto from 'node:crypto';

/**
 * Errors a launch can be registered to produce, for app developers testing their error paths (like
 * smart-launcher-v2's "simulated errors"). Each one is a real failure of the real flow:
 * - `auth_invalid_scope`, `auth_access_denied`: /authorize answers that OAuth error (redirect with state);
 * - `token_invalid_grant`: the code exchange is refused with `invalid_grant` and what it issued is revoked;
 * - `token_expired_refresh_token`: every refresh is refused with `invalid_grant` and its tokens revoked;
 * - `request_invalid_token`: the FHIR API refuses the launch's access tokens (401 invalid_token);
 * - `request_expired_token`: the FHIR API refuses them once they are one second old, as if expired.
 */
export const SIMULATED_ERRORS = [
  'auth_invalid_scope',
  'auth_access_denied',
  'token_invalid_grant',
  'token_expired_refresh_token',
  'request_invalid_token',
  'request_expired_token',
] as const;
export type SimulatedError = (typeof SIMULATED_ERRORS)[number];

export interface StoredLaunch {
  sandboxKey: number;
  /** SHA-256 of the launch id, base64url: the store never holds the id itself. */
  idHash: string;
  /** When set, only this client may use the launch. */
  clientId?: string;
  /** Persona for sandbox single sign-on: no login, no consent, single use. */
  username?: string;
  /** Context parameters with their JSON types (need_patient_banner, patient, fhirContext, …). */
  parameters: Record<string, unknown>;
  createdAt: number;
  /** client_id of the registering token, or `anonymous` under legacy open registration. */
  createdBy: string;
  expiresAt: number;
  /** Set when a single-use (username) launch was redeemed. */
  consumedAt?: number;
  /** A failure this launch was registered to produce (see SIMULATED_ERRORS). */
  simulateError?: SimulatedError;
}

export interface LaunchStore {
  insert(launch: StoredLaunch): Promise<void>;
  /** The launch if it exists in this sandbox generation and has not expired (consumed ones included). */
  find(sandboxKey: number, launchId: string): Promise<StoredLaunch | undefined>;
  /** Atomically marks a single-use launch consumed; false when it was already consumed or is gone. */
  consume(sandboxKey: number, launchId: string, now?: number): Promise<boolean>;
  delete(sandboxKey: number, launchId: string): Promise<boolean>;
  /** Recent launches of a sandbox for inspectors, newest first. */
  recent(sandboxKey: number, limit: number): Promise<StoredLaunch[]>;
  /** Removes launches expired before `now`; returns how many. */
  purgeExpired(now?: number): Promise<number>;
  purgeSandbox(sandboxKey: number): Promise<void>;
}

/**
 * Keys a launch parameter may not use (architecture §5): they would shadow token-response or
 * introspection fields. The registration service refuses them; the auth server never copies them
 * from a context into a token response.
 */
export const RESERVED_CONTEXT_KEYS: ReadonlySet<string> = new Set([
  'access_token',
  'token_type',
  'expires_in',
  'scope',
  'refresh_token',
  'id_token',
  'state',
  'active',
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'fhirUser',
  'authorization_details',
  'cnf',
  'launch_id',
]);

/** 32 random bytes (256 bits), base64url: unguessable and safe in URLs and form bodies. */
export function newLaunchId(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export function hashLaunchId(launchId: string): string {
  return crypto.createHash('sha256').update(launchId).digest('base64url');
}

/** The `launch_id` grammar we issue (and therefore the only one we look up). */
export const LAUNCH_ID = /^[A-Za-z0-9_-]{16,128}$/;
