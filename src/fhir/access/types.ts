/**
 * What a request is allowed to do, as established before it reaches the FHIR data path.
 * The auth capability produces `TokenGrant`s (it implements `TokenVerifier`); the FHIR capability
 * enforces them inside its per-request repository (docs/architecture.md §6), failing closed.
 */
import type { Sandbox } from '../../storage/types.js';

/** An active access token of one sandbox, as the resource server sees it. */
export interface TokenGrant {
  /** Tenant generation the token was issued for (Sandbox.key). */
  sandboxKey: number;
  clientId: string;
  /** Granted scopes, space-separated (SMART v1 and/or v2 syntax plus openid, launch, …). */
  scope: string;
  /** The persona (username) for user-facing grants; undefined for client_credentials. */
  sub?: string;
  /** The persona's FHIR resource, relative (`Practitioner/123`, `Patient/abc`). */
  fhirUser?: string;
  /** Launch context patient id, when the grant carries one. */
  patient?: string;
  /** Launch context encounter id. */
  encounter?: string;
  /** Expiry, epoch seconds. */
  expiresAt: number;
  /** The whole launch context (need_patient_banner, fhirContext, intent, custom keys…). */
  context: Record<string, unknown>;
  /** The authorization-server session the token was issued under (user grants), for launch binding. */
  sessionUid?: string;
}

export interface TokenVerifier {
  /**
   * Resolves a bearer token presented to `sandbox`'s FHIR base. Undefined for unknown, expired,
   * revoked or foreign-sandbox tokens and for tokens whose client or persona was removed.
   */
  verify(sandbox: Sandbox, token: string): Promise<TokenGrant | undefined>;
}

/** How a FHIR request was authenticated. */
export type RequestAccess =
  /** `/{sandbox}/open`: no token; `write` when the sandbox is opened for writing. */
  | { kind: 'open'; write: boolean }
  /** `/{sandbox}/data` with a verified token. */
  | { kind: 'token'; grant: TokenGrant };
