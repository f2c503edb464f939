/**
 * SMART apps of a sandbox (docs/architecture.md §4 `client add|list|remove`). Read on every authorization
 * and token request through the oidc-provider adapter's `Client` model, so a client added or removed
 * by the CLI while the server runs takes effect at once. Secrets are stored hashed (scrypt).
 */
import {
  AuthInputError,
  type ClientAddOptions,
  type ClientAddResult,
  type ClientAuthMethod,
  type ClientStore,
  type SandboxClient,
} from '../../auth/types.js';
import { hashSecret, randomSecret } from '../../auth/secrets.js';
import { parseScope, splitScopes } from '../../smart/scopes.js';
import type { Sqlite } from './open.js';

export interface ClientRow {
  tenant: number;
  client_id: string;
  name: string;
  auth_method: string;
  secret_hash: string | null;
  jwks_uri: string | null;
  jwks: string | null;
  redirect_uris: string;
  launch_uri: string | null;
  scope: string;
  grant_types: string;
  pkce: string;
  consent: string;
  may_register_launches: number;
  access_token_ttl: number | null;
  refresh_token_ttl: number | null;
  launch_ttl: number | null;
  created_at: number;
}

export const toClient = (r: ClientRow): SandboxClient => ({
  sandboxKey: r.tenant,
  clientId: r.client_id,
  name: r.name,
  authMethod: r.auth_method as ClientAuthMethod,
  hasSecret: r.secret_hash !== null,
  jwksUri: r.jwks_uri ?? undefined,
  jwks: r.jwks ? JSON.parse(r.jwks) : undefined,
  redirectUris: JSON.parse(r.redirect_uris),
  launchUri: r.launch_uri ?? undefined,
  scope: r.scope,
  grantTypes: JSON.parse(r.grant_types),
  pkce: r.pkce as SandboxClient['pkce'],
  consent: r.consent as SandboxClient['consent'],
  mayRegisterLaunches: r.may_register_launches === 1,
  accessTokenTtl: r.access_token_ttl ?? undefined,
  refreshTokenTtl: r.refresh_token_ttl ?? undefined,
  launchTtl: r.launch_ttl ?? undefined,
  createdAt: r.created_at,
});

export const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials']);
/** The scopes an interactive app gets when `--scope` is omitted: everything but the restricted ones. */
export const DEFAULT_APP_SCOPE =
  'launch launch/patient launch/encounter openid fhirUser profile offline_access online_access patient/*.cruds user/*.cruds';
/** A backend service without `--scope` may read the whole sandbox. */
export const DEFAULT_SERVICE_SCOPE = 'system/*.rs';

export function httpUrl(value: string, what: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new AuthInputError(`${what} must be an absolute URL, got ${value}`, 'invalid');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AuthInputError(`${what} must be an http(s) URL`, 'invalid');
  if (u.hash) throw new AuthInputError(`${what} must not contain a fragment`, 'invalid');
  return value;
}

function ttl(v: number | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 30 || v > 5 * 365 * 86400) throw new AuthInputError(`${what} must be between 30 seconds and 5 years`, 'invalid');
  return v;
}

/** Launch lifetimes (docs/architecture.md §5): between 30 seconds and 24 hours. */
function launchTtl(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 30 || v > 86400) throw new AuthInputError('launch lifetime must be between 30 seconds and 24 hours (86400 seconds)', 'invalid');
  return v;
}

/** Public JWKs only, each with `kty` and `kid` (client-confidential-asymmetric §"Registering a client"). */
function checkJwks(jwks: unknown): { keys: Record<string, unknown>[] } {
  const keys = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new AuthInputError('the JWKS must be an object with a non-empty "keys" array', 'invalid');
  for (const k of keys) {
    if (typeof k !== 'object' || k === null) throw new AuthInputError('every JWKS key must be an object', 'invalid');
    const key = k as Record<string, unknown>;
    if (key.kty !== 'RSA' && key.kty !== 'EC') throw new AuthInputError('JWKS keys must be RSA or EC keys', 'invalid');
    if (typeof key.kid !== 'string' || !key.kid) throw new AuthInputError('every JWKS key needs a "kid"', 'invalid');
    if ('d' in key || 'p' in key || 'q' in key) throw new AuthInputError(`JWKS key ${key.kid} contains private key material`, 'invalid');
  }
  return { keys: keys as Record<string, unknown>[] };
}

/** Validates `client add` options into a row (throws AuthInputError). Shared with dynamic registration. */
export function clientRow(sandboxKey: number, o: ClientAddOptions): { row: ClientRow; generatedSecret?: string } {
  if (!CLIENT_ID.test(o.clientId)) throw new AuthInputError(`client id must match ${CLIENT_ID.source}`, 'invalid');
  const kinds = [o.public, o.secret !== undefined, o.jwksUrl !== undefined || o.jwks !== undefined].filter(Boolean).length;
  if (kinds > 1) throw new AuthInputError('choose one of --public, --secret, --jwks-url/--jwks-file', 'invalid');
  if (o.jwksUrl !== undefined && o.jwks !== undefined) throw new AuthInputError('choose one of --jwks-url and --jwks-file', 'invalid');
  const asymmetric = o.jwksUrl !== undefined || o.jwks !== undefined;
  const authMethod: ClientAuthMethod = o.public ? 'none' : asymmetric ? 'private_key_jwt' : (o.secretMethod ?? 'client_secret_basic');
  let generatedSecret: string | undefined;
  let secretHash: string | null = null;
  if (authMethod === 'client_secret_basic' || authMethod === 'client_secret_post') {
    if (o.secret !== undefined && (o.secret.length < 8 || o.secret.length > 256))
      throw new AuthInputError('a client secret must have 8 to 256 characters', 'invalid');
    const secret = o.secret ?? randomSecret();
    if (o.secret === undefined) generatedSecret = secret;
    secretHash = hashSecret(secret);
  }
  const redirectUris = [...new Set((o.redirectUris ?? []).map((u) => httpUrl(u, 'redirect URI')))];
  const launchUri = o.launchUri === undefined ? undefined : httpUrl(o.launchUri, 'launch URI');
  let grantTypes = o.grantTypes?.length ? [...new Set(o.grantTypes)] : undefined;
  if (!grantTypes) grantTypes = asymmetric && redirectUris.length === 0 ? ['client_credentials'] : ['authorization_code', 'refresh_token'];
  for (const g of grantTypes) if (!GRANTS.has(g)) throw new AuthInputError(`grant type ${g} is not supported`, 'invalid');
  if (grantTypes.includes('client_credentials') && authMethod === 'none')
    throw new AuthInputError('a public client cannot use client_credentials', 'invalid');
  if (grantTypes.includes('refresh_token') && !grantTypes.includes('authorization_code'))
    throw new AuthInputError('refresh_token needs authorization_code', 'invalid');
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0)
    throw new AuthInputError('an app using authorization_code needs at least one --redirect-uri', 'invalid');
  const interactive = grantTypes.includes('authorization_code');
  const scope = splitScopes(o.scope ?? (interactive ? DEFAULT_APP_SCOPE : DEFAULT_SERVICE_SCOPE));
  for (const s of scope) if (!parseScope(s)) throw new AuthInputError(`scope ${s} is not a SMART scope this server knows`, 'invalid');
  if (scope.length === 0) throw new AuthInputError('the client needs at least one scope', 'invalid');
  const jwks = o.jwks === undefined ? undefined : checkJwks(o.jwks);
  return {
    generatedSecret,
    row: {
      tenant: sandboxKey,
      client_id: o.clientId,
      name: (o.name ?? o.clientId).slice(0, 200),
      auth_method: authMethod,
      secret_hash: secretHash,
      jwks_uri: o.jwksUrl === undefined ? null : httpUrl(o.jwksUrl, 'JWKS URL'),
      jwks: jwks ? JSON.stringify(jwks) : null,
      redirect_uris: JSON.stringify(redirectUris),
      launch_uri: launchUri ?? null,
      scope: scope.join(' '),
      grant_types: JSON.stringify(grantTypes),
      pkce: o.pkce ?? 'required',
      consent: o.consent ?? 'prompt',
      may_register_launches: o.mayRegisterLaunches ? 1 : 0,
      access_token_ttl: ttl(o.accessTokenTtl, 'access token lifetime') ?? null,
      refresh_token_ttl: ttl(o.refreshTokenTtl, 'refresh token lifetime') ?? null,
      launch_ttl: launchTtl(o.launchTtl) ?? null,
      created_at: Date.now(),
    },
  };
}

export class SqliteClientStore implements ClientStore {
  private readonly one;
  private readonly byLaunchUri;
  private readonly ins;
  constructor(private readonly db: Sqlite) {
    this.one = db.prepare('SELECT * FROM auth_client WHERE tenant = ? AND client_id = ?');
    this.byLaunchUri = db.prepare('SELECT * FROM auth_client WHERE tenant = ? AND launch_uri = ? ORDER BY created_at LIMIT 1');
    this.ins = db.prepare(
      `INSERT INTO auth_client (tenant, client_id, name, auth_method, secret_hash, jwks_uri, jwks, redirect_uris, launch_uri, scope,
         grant_types, pkce, consent, may_register_launches, access_token_ttl, refresh_token_ttl, launch_ttl, registered, created_at)
       VALUES (@tenant, @client_id, @name, @auth_method, @secret_hash, @jwks_uri, @jwks, @redirect_uris, @launch_uri, @scope,
         @grant_types, @pkce, @consent, @may_register_launches, @access_token_ttl, @refresh_token_ttl, @launch_ttl, @registered, @created_at)`,
    );
  }

  async getClient(sandboxKey: number, clientId: string): Promise<SandboxClient | undefined> {
    const r = this.one.get(sandboxKey, clientId) as ClientRow | undefined;
    return r && toClient(r);
  }

  /** The stored secret hash (for the token endpoint's secret check); never leaves the auth module. */
  async secretHash(sandboxKey: number, clientId: string): Promise<string | undefined> {
    return (this.one.get(sandboxKey, clientId) as ClientRow | undefined)?.secret_hash ?? undefined;
  }

  async findByLaunchUri(sandboxKey: number, uri: string): Promise<SandboxClient | undefined> {
    const r = this.byLaunchUri.get(sandboxKey, uri) as ClientRow | undefined;
    return r && toClient(r);
  }

  async add(sandboxKey: number, opts: ClientAddOptions, registered = false): Promise<ClientAddResult> {
    const { row, generatedSecret } = clientRow(sandboxKey, opts);
    const insert = this.db.transaction(() => {
      if (this.one.get(sandboxKey, opts.clientId)) throw new AuthInputError(`client ${opts.clientId} already exists`, 'exists');
      this.ins.run({ ...row, registered: registered ? 1 : 0 });
    });
    insert.immediate();
    return { client: toClient(row), generatedSecret };
  }

  /** Re-points an app at new URLs (the demo app follows PUBLIC_URL, docs/architecture.md §3). */
  async updateUrls(sandboxKey: number, clientId: string, u: { launchUri?: string; redirectUris: string[] }): Promise<void> {
    const redirects = u.redirectUris.map((x) => httpUrl(x, 'redirect URI'));
    const launch = u.launchUri === undefined ? null : httpUrl(u.launchUri, 'launch URI');
    this.db
      .prepare('UPDATE auth_client SET redirect_uris = ?, launch_uri = ? WHERE tenant = ? AND client_id = ?')
      .run(JSON.stringify(redirects), launch, sandboxKey, clientId);
  }

  async list(sandboxKey: number): Promise<SandboxClient[]> {
    return (this.db.prepare('SELECT * FROM auth_client WHERE tenant = ? ORDER BY client_id').all(sandboxKey) as ClientRow[]).map(toClient);
  }

  async remove(sandboxKey: number, clientId: string): Promise<boolean> {
    return this.db.transaction(() => this.removeSync(sandboxKey, clientId)).immediate();
  }

  private removeSync(sandboxKey: number, clientId: string): boolean {
    const n = this.db.prepare('DELETE FROM auth_client WHERE tenant = ? AND client_id = ?').run(sandboxKey, clientId).changes;
    // Architecture §4: removing a client revokes every grant and token that depends on it.
    this.db.prepare('DELETE FROM oidc_payload WHERE tenant = ? AND client_id = ?').run(sandboxKey, clientId);
    return n === 1;
  }

  async replace(sandboxKey: number, opts: ClientAddOptions): Promise<ClientAddResult> {
    const { row, generatedSecret } = clientRow(sandboxKey, opts);
    this.db
      .transaction(() => {
        this.removeSync(sandboxKey, opts.clientId);
        this.ins.run({ ...row, registered: 0 });
      })
      .immediate();
    return { client: toClient(row), generatedSecret };
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    this.db.prepare('DELETE FROM auth_client WHERE tenant = ?').run(sandboxKey);
  }
}
