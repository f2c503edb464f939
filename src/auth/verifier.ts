/**
 * Resolves bearer tokens for the FHIR API (src/fhir/access/types.ts). Runs on every FHIR request,
 * never cached (a revocation on any node is seen by every node at once), so it is one primary-key lookup of the opaque access token in `oidc_payload` (no crypto, no
 * provider instance: `--role api` processes have none) plus, only for tokens bound to a login
 * session (online access), one lookup of that session.
 *
 * Revocation is by deletion: removing a client or persona, revoking a token, refresh-token reuse
 * and sandbox deletion delete the rows, and a re-created sandbox has a new tenant key.
 */
import { sandboxUrls } from '../config/urls.js';
import type { TokenGrant, TokenVerifier } from '../fhir/access/types.js';
import type { OidcPayloadStore } from '../storage/auth-stores.js';
import type { Sandbox } from '../storage/types.js';
import { GRANTED_SCOPE_KEY, SIMULATE_KEY, tokenResponseContext } from './context.js';

interface TokenPayload {
  exp?: number;
  iat?: number;
  clientId?: string;
  accountId?: string;
  scope?: string;
  expiresWithSession?: boolean;
  sessionUid?: string;
  extra?: Record<string, unknown>;
}

/** Opaque token values oidc-provider issues: nanoid, URL-safe. */
const TOKEN = /^[A-Za-z0-9_-]{20,256}$/;

export class StoreTokenVerifier implements TokenVerifier {
  constructor(
    private readonly table: OidcPayloadStore,
    private readonly publicUrl: string,
  ) {}

  async verify(sandbox: Sandbox, token: string): Promise<TokenGrant | undefined> {
    if (typeof token !== 'string' || !TOKEN.test(token)) return undefined;
    const row = await this.table.accessToken(sandbox.key, token);
    if (!row) return undefined;
    const now = Date.now();
    if (row.expires_at !== null && Number(row.expires_at) <= now) return undefined;
    const p = JSON.parse(row.payload) as TokenPayload;
    if (typeof p.exp !== 'number' || p.exp * 1000 <= now || typeof p.clientId !== 'string') return undefined;
    // Online access (no offline_access): the token dies with the login session (SMART 2.2 §"online_access").
    if (p.expiresWithSession && (!p.sessionUid || !(await this.table.sessionLive(sandbox.key, p.sessionUid, now)))) return undefined;
    const extra = p.extra ?? {};
    // Simulated errors (src/launch/model.ts): tokens of such a launch fail at the resource server.
    if (extra[SIMULATE_KEY] === 'request_invalid_token') return undefined;
    if (extra[SIMULATE_KEY] === 'request_expired_token' && (typeof p.iat !== 'number' || (p.iat + 1) * 1000 <= now)) return undefined;
    const fhirUser = typeof extra.fhirUser === 'string' ? this.relative(sandbox, extra.fhirUser) : undefined;
    return {
      sandboxKey: sandbox.key,
      clientId: p.clientId,
      scope: typeof extra[GRANTED_SCOPE_KEY] === 'string' ? (extra[GRANTED_SCOPE_KEY] as string) : (p.scope ?? ''),
      sub: p.accountId,
      fhirUser,
      patient: typeof extra.patient === 'string' ? extra.patient : undefined,
      encounter: typeof extra.encounter === 'string' ? extra.encounter : undefined,
      expiresAt: p.exp,
      context: tokenResponseContext(extra),
      sessionUid: p.sessionUid,
    };
  }

  /** `{iss}/Practitioner/x` → `Practitioner/x`. */
  private relative(sandbox: Sandbox, absolute: string): string {
    const prefix = `${sandboxUrls(this.publicUrl, sandbox.id).iss}/`;
    if (absolute.startsWith(prefix)) return absolute.slice(prefix.length);
    const m = /([A-Za-z]+\/[A-Za-z0-9.-]+)$/.exec(absolute);
    return m ? m[1] : absolute;
  }
}
