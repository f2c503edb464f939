/**
 * The launch-context model. Its lifecycle (who may register what, binding, lifetime, reuse,
 * redemption, single sign-on, audit) is decided by src/launch/lifecycle.ts alone; the authorization
 * server (src/auth) and the console ask it. See docs/adr/0005-launch-lifecycle.md.
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

/**
 * `orchestrator`: `smart/orchestrate_launch` or the local administrator; `app-user`: an app flagged
 * "may register launches" with its user's token; `anonymous`: legacy open registration.
 */
export type LaunchAuthority = 'orchestrator' | 'app-user' | 'anonymous';

export interface StoredLaunch {
  sandboxKey: number;
  /** SHA-256 of the launch id, base64url: the store never holds the id itself. */
  idHash: string;
  /** The apps that may use the launch; empty means any app of the sandbox (orchestrators and open registration only). */
  clientIds: string[];
  /** The persona the launch is for: only this persona may redeem it (signed in, or by single sign-on). */
  username?: string;
  /** Who registered it, which decides whether it may sign its persona in without a password. */
  authority: LaunchAuthority;
  /** App-user launches: the authorization-server session under which the registering token was issued. */
  sessionUid?: string;
  /** Context parameters with their JSON types (need_patient_banner, patient, fhirContext, …). */
  parameters: Record<string, unknown>;
  createdAt: number;
  /** client_id of the registering token, or `anonymous` under legacy open registration. */
  createdBy: string;
  expiresAt: number;
  /** Set when the launch's one password-less sign-in (orchestrators' launches) was spent. */
  consumedAt?: number;
  /** A failure this launch was registered to produce (see SIMULATED_ERRORS). */
  simulateError?: SimulatedError;
}

/** Storage of launches by the hash of their id (only the lifecycle hashes ids: hashLaunchId). */
export interface LaunchStore {
  insert(launch: StoredLaunch): Promise<void>;
  /** The launch if it exists in this sandbox generation and has not expired at `now` (consumed ones included). */
  find(sandboxKey: number, idHash: string, now: number): Promise<StoredLaunch | undefined>;
  /** Atomically spends the launch's single sign-on; false when it was already spent or is gone. */
  consume(sandboxKey: number, idHash: string, now: number): Promise<boolean>;
  delete(sandboxKey: number, idHash: string): Promise<boolean>;
  /** Recent launches of a sandbox for inspectors, newest first. */
  recent(sandboxKey: number, limit: number): Promise<StoredLaunch[]>;
  /** Removes launches expired before `now`; returns how many. */
  purgeExpired(now?: number): Promise<number>;
  purgeSandbox(sandboxKey: number): Promise<void>;
}

/**
 * Keys a launch parameter may not use (docs/architecture.md §5): they would shadow token-response or
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
