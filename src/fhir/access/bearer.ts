/**
 * The one bearer-token check of every resource route: the FHIR API (`/{sandbox}/data`), bulk export
 * and the launch registration service (`_services`). RFC 6750 §2.1 (the `Authorization: Bearer`
 * header, the only form accepted: no query or form tokens) and §3.1 (401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` for a missing, unknown, expired or revoked token).
 *
 * The verifier does the one store lookup (token, its session, simulated request errors: see
 * src/auth/verifier.ts); this adds the rules that must hold whatever verifier is plugged in, failing
 * closed: the grant belongs to this sandbox generation and is unexpired.
 */
import { unauthorized } from '../../errors/errors.js';
import type { Sandbox } from '../../storage/types.js';
import type { TokenGrant, TokenVerifier } from './types.js';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token of an `Authorization: Bearer …` header (RFC 6750 §2.1 b64token), else undefined. */
export function bearerToken(authorization: string | string[] | undefined): string | undefined {
  if (typeof authorization !== 'string') return undefined;
  return BEARER.exec(authorization)?.[1];
}

/**
 * The grant of the request's bearer token, or a 401 FhirError carrying `WWW-Authenticate`.
 * `now` (epoch milliseconds) is injectable for tests of expiry.
 */
export async function requireBearerGrant(
  verifier: TokenVerifier,
  sandbox: Sandbox,
  authorization: string | string[] | undefined,
  now: number = Date.now(),
): Promise<TokenGrant> {
  if (authorization === undefined) throw unauthorized('a bearer token is required');
  const token = bearerToken(authorization);
  if (token === undefined) throw unauthorized('the Authorization header must be "Bearer <access token>"');
  const grant = await verifier.verify(sandbox, token);
  // Fail closed: a grant of another tenant generation or an expired one is no grant.
  if (!grant || grant.sandboxKey !== sandbox.key || grant.expiresAt * 1000 <= now) {
    throw unauthorized('the access token is invalid, expired, revoked or not for this sandbox');
  }
  return grant;
}
