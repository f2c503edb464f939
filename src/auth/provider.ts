/**
 * One oidc-provider instance per sandbox generation (docs/auth-server.md §1), issuer
 * `{PUBLIC_URL}/{sandbox}/auth`. The SMART glue lives here: `aud`/`launch` validation, SMART scopes
 * as resource scopes of the FHIR base (§4.2), `offline_access` without `prompt=consent` (§4.1),
 * the launch context by grantId (§4.3) added to token responses, client rules from our client store.
 */
import type { AdapterPayload, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import Provider, { errors, interactionPolicy } from './oidc-provider.js';
import type { Config } from '../config/config.js';
import { type SandboxUrls, sandboxUrls } from '../config/urls.js';
import type { FhirDirectory } from '../fhir/directory.js';
import type { LaunchLifecycle } from '../launch/lifecycle.js';
import type { StoredLaunch } from '../launch/model.js';
import type { AuthKeyStore, OidcPayloadStore, SmartContextStore } from '../storage/auth-stores.js';
import { DatabaseUnavailable } from '../storage/backend.js';
import { oidcAdapter } from './adapter.js';
import type { Sandbox } from '../storage/types.js';
import { extraClaimsOf, GRANTED_SCOPE_KEY, LAUNCH_HASH_KEY, SIMULATE_KEY, setOwn, tokenResponseContext, unescapeKey } from './context.js';
import { PAGE_HEADERS, renderErrorPage } from './pages.js';
import type { PrivateJwk } from './keys.js';
import { guardedFetch } from './outbound.js';
import { OIDC_SCOPES, allowedScopes, isOidcScope, parseScope, scopeAllowed, splitScopes } from './scopes.js';
import { AuthInputError, type ClientStore, type PersonaStore, type SandboxClient } from './types.js';
import { verifySecret } from './secrets.js';
import { registeredClientOptions } from './registration.js';

export interface AuthDeps {
  config: Config;
  table: OidcPayloadStore;
  clients: ClientStore;
  personas: PersonaStore;
  contexts: SmartContextStore;
  keys: AuthKeyStore;
  /** Decides everything about launches: redemption, signing in, patients a persona may get, audit. */
  lifecycle: LaunchLifecycle;
  fhir: FhirDirectory;
}

const DAY = 86400;
/** Default lifetimes (seconds). Refresh tokens for offline_access: 90 days (g10 asks ≥ 3 months). */
export const LIFETIMES = {
  accessToken: 3600,
  backendAccessToken: 300,
  authorizationCode: 60,
  offlineRefreshToken: 90 * DAY,
  onlineRefreshToken: DAY,
  session: DAY,
  interaction: 3600,
  idToken: 3600,
};

/** A SandboxClient as oidc-provider client metadata (RFC 7591 names). */
export function clientMetadata(c: SandboxClient, secretHash: string | undefined): AdapterPayload {
  const code = c.grantTypes.includes('authorization_code');
  return {
    client_id: c.clientId,
    client_name: c.name,
    token_endpoint_auth_method: c.authMethod,
    // The stored scrypt hash stands in for the secret; compareClientSecret is replaced below.
    ...(secretHash ? { client_secret: secretHash } : {}),
    ...(c.jwks ? { jwks: c.jwks } : {}),
    ...(c.jwksUri ? { jwks_uri: c.jwksUri } : {}),
    redirect_uris: c.redirectUris,
    grant_types: c.grantTypes,
    response_types: code ? ['code'] : [],
  };
}

export interface SandboxProvider {
  sandbox: Sandbox;
  urls: SandboxUrls;
  provider: Provider;
  /** Path prefix of the issuer, e.g. `/demo/auth`. */
  mountPath: string;
  /** The keys this provider was built with (interaction CSRF tokens use the cookie keys). */
  keys: ProviderKeys;
}

/** Per-sandbox keys, loaded from the store before a provider is built (they are shared by every node). */
export interface ProviderKeys {
  jwks: { keys: PrivateJwk[] };
  cookieKeys: string[];
  registrationToken: string;
}

/** The launch named by the request, looked up once per request. */
const launchCache = new WeakMap<object, StoredLaunch | null>();

export function createSandboxProvider(sandbox: Sandbox, deps: AuthDeps, keys: ProviderKeys): SandboxProvider {
  const urls = sandboxUrls(deps.config.publicUrl, sandbox.id);
  const mountPath = new URL(urls.issuer).pathname;
  const https = deps.config.publicUrl.startsWith('https:');
  const key = sandbox.key;
  const sandboxClient = async (clientId: string | undefined) => (clientId ? deps.clients.getClient(key, clientId) : undefined);
  // oidc-provider's synchronous hooks (pkce.required, ttl, clientBasedCORS) receive a client it has just
  // loaded through the adapter's `find` in the same request: they read the SandboxClient that `find`
  // loaded, never the database (ADR 0004). A client removed since is gone from here as well.
  const loadedClients = new Map<string, SandboxClient>();
  const loadedClient = (clientId: string | undefined) => (clientId ? loadedClients.get(clientId) : undefined);

  const launchOf = async (ctx: KoaContextWithOIDC): Promise<StoredLaunch | undefined> => {
    const id = ctx.oidc.params?.launch;
    if (typeof id !== 'string') return undefined;
    if (!launchCache.has(ctx)) launchCache.set(ctx, (await deps.lifecycle.find(key, id)) ?? null);
    return launchCache.get(ctx) ?? undefined;
  };

  const policy = interactionPolicy.base();
  const { Check } = interactionPolicy;
  // Architecture §5: whether the browser's session stands in for a login is the launch lifecycle's
  // decision (a launch naming a persona needs that persona's session; password-less sessions only
  // satisfy launches naming their persona).
  policy.get('login')?.checks.add(
    new Check('smart_launch_persona', 'the session must satisfy the launch', async (ctx) => {
      const session = ctx.oidc.session;
      const view = session ? { uid: session.uid, accountId: session.accountId, amr: session.amr } : undefined;
      return deps.lifecycle.sessionSatisfies(await launchOf(ctx), view) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  // Every SMART authorization gets its own grant, hence its own launch context (docs/auth-server.md §3).
  policy.get('consent')?.checks.add(
    new Check('smart_context', 'a SMART launch context must be established', (ctx) =>
      ctx.oidc.result?.consent?.grantId ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT,
    ),
  );

  /** OIDC scopes granted for this token request (code exchange or, possibly narrowed, refresh). */
  const grantedOidcScopes = (ctx: KoaContextWithOIDC): string[] => {
    const { Grant: grant, AuthorizationCode: code, RefreshToken: rt } = ctx.oidc.entities;
    const source = code ?? rt;
    if (!grant || !source) return [];
    const asked = ctx.oidc.params?.scope ? new Set(splitScopes(String(ctx.oidc.params.scope))) : source.scopes;
    const granted = new Set(splitScopes(grant.getOIDCScope()));
    return OIDC_SCOPES.filter((s) => asked.has(s) && granted.has(s));
  };

  const configuration: Configuration = {
    adapter: oidcAdapter(deps.table, key, {
      find: async (clientId) => {
        const c = await sandboxClient(clientId);
        if (!c) {
          loadedClients.delete(clientId);
          return undefined;
        }
        loadedClients.set(clientId, c);
        return clientMetadata(c, await deps.clients.secretHash(key, clientId));
      },
      // RFC 7591 registration (needs the sandbox's initial access token); never restricted scopes.
      register: async (metadata) => {
        try {
          await deps.clients.add(key, registeredClientOptions(metadata), true);
        } catch (e) {
          if (e instanceof AuthInputError) throw new errors.InvalidClientMetadata(e.message);
          throw e;
        }
      },
      remove: async (clientId) => {
        loadedClients.delete(clientId);
        await deps.clients.remove(key, clientId);
      },
    }),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: {
      keys: keys.cookieKeys,
      names: { session: '_ss_session', interaction: '_ss_interaction', resume: '_ss_resume' },
      // Cookies scoped to this sandbox's issuer path (docs/architecture.md §6); SameSite=None needs Secure.
      long: { httpOnly: true, path: mountPath, ...(https ? { secure: true, sameSite: 'none' } : { sameSite: 'lax' }) },
      short: { httpOnly: true, path: mountPath, ...(https ? { secure: true, sameSite: 'none' } : { sameSite: 'lax' }) },
    },
    routes: {
      authorization: '/authorize',
      token: '/token',
      introspection: '/introspect',
      revocation: '/revoke',
      registration: '/register',
      userinfo: '/userinfo',
      jwks: '/jwks',
      end_session: '/logout',
    },
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS384', 'ES384', 'RS256', 'ES256', 'RS512', 'ES512', 'PS256', 'PS384', 'PS512'],
      idTokenSigningAlgValues: ['RS256'],
      userinfoSigningAlgValues: ['RS256'],
      introspectionSigningAlgValues: ['RS256'],
    },
    scopes: [...OIDC_SCOPES],
    // `profile` (claim) is the persona's relative FHIR reference, as HSPC sent it and as SMART v1-era
    // clients read it from the id_token; fhirUser (SMART 2.2) stays absolute.
    claims: { openid: ['sub'], fhirUser: ['fhirUser'], profile: ['name', 'profile'] },
    conformIdTokenClaims: false,
    clockTolerance: 30,
    async findAccount(_ctx, sub) {
      const persona = await deps.personas.getPersona(key, sub);
      if (!persona) return undefined;
      return {
        accountId: sub,
        // SMART 2.2 §"Scopes for requesting identity data": fhirUser is an absolute URL here.
        claims: async () => ({ sub, fhirUser: `${urls.iss}/${persona.resource}`, name: persona.name, profile: persona.resource }),
      };
    },
    extraParams: {
      // SMART 2.2 §"Obtain authorization code": aud SHALL be the FHIR base (A3).
      async aud(_ctx: KoaContextWithOIDC, value: string | undefined) {
        if (value !== urls.iss) throw new errors.InvalidRequest(`aud must be this sandbox's FHIR base URL ${urls.iss}`);
      },
      async launch(ctx: KoaContextWithOIDC, value: string | undefined, client: { clientId: string } | undefined) {
        const sc = await sandboxClient(client?.clientId);
        if (!sc) throw new errors.InvalidClient('client not found');
        let requested = splitScopes(ctx.oidc.params?.scope as string | undefined);
        if (value !== undefined) {
          const refusal = deps.lifecycle.checkAuthorize(key, value, await launchOf(ctx), sc.clientId);
          if (refusal?.error === 'invalid_scope') throw new errors.InvalidScope(refusal.description, ctx.oidc.params?.scope as string);
          if (refusal?.error === 'access_denied') throw new errors.AccessDenied(refusal.description);
          if (refusal) throw new errors.InvalidRequest(refusal.description);
        } else if (requested.includes('launch')) {
          // A standalone launch has no EHR context to grant. Apps written for both flows (HSPC's
          // bilirubin chart among them) still ask for `launch`: it is not granted, the rest proceeds
          // (SMART 2.2 §"Scopes": servers may grant fewer scopes than requested).
          requested = requested.filter((s) => s !== 'launch');
        }
        // docs/auth-server.md §6: oidc-provider drops offline_access without prompt=consent (OIDC Core §11);
        // SMART asks for no such prompt, and our consent screen shows it anyway. Put it back, then keep
        // only the OIDC scopes this client may be granted (resource scopes are filtered per resource).
        const raw = splitScopes(String((ctx.method === 'POST' ? ctx.oidc.body?.scope : ctx.query?.scope) ?? ''));
        const current = requested;
        if (raw.includes('offline_access') && !current.includes('offline_access') && sc.grantTypes.includes('refresh_token'))
          current.push('offline_access');
        const allow = splitScopes(sc.scope);
        const kept = current.filter((s) => !isOidcScope(s) || scopeAllowed(s, allow));
        if (ctx.oidc.params) ctx.oidc.params.scope = kept.length ? kept.join(' ') : undefined;
      },
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      introspection: {
        enabled: true,
        // SMART 2.2 §"Token Introspection": any authenticated client of the sandbox may introspect;
        // a public client only its own tokens.
        allowedPolicy: async (_ctx, caller, token) => caller.clientAuthMethod !== 'none' || token.clientId === caller.clientId,
      },
      revocation: { enabled: true, allowedPolicy: async (_ctx, caller, token) => token.clientId === caller.clientId },
      registration: { enabled: true, initialAccessToken: keys.registrationToken },
      resourceIndicators: {
        enabled: true,
        // The FHIR base is the only resource; `aud` is checked in extraParams.aud.
        defaultResource: async () => urls.iss,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, indicator, client) => {
          if (indicator !== urls.iss) throw new errors.InvalidTarget(`the only resource of this server is ${urls.iss}`);
          const sc = await sandboxClient(client.clientId);
          if (!sc) throw new errors.InvalidClient('client not found');
          const backend = ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials';
          const grant = ctx.oidc.entities.Grant;
          const wanted = [
            ...splitScopes(ctx.oidc.params?.scope as string | undefined),
            ...(grant ? splitScopes(grant.resources?.[indicator] as string | undefined) : []),
          ];
          let scope = allowedScopes(wanted.join(' '), sc.scope).filter((s) => !isOidcScope(s));
          if (backend) {
            // Backend services (SMART 2.2 §"Backend Services"): system/ scopes and the restricted
            // launch-orchestration scope only; requested ⊆ pre-authorized, else invalid_scope.
            scope = scope.filter((s) => s.startsWith('system/') || parseScope(s)?.kind === 'restricted');
            if (scope.length === 0) throw new errors.InvalidScope('none of the requested scopes is allowed for this client', String(ctx.oidc.params?.scope ?? ''));
          }
          const ttl = backend
            ? Math.min(sc.accessTokenTtl ?? LIFETIMES.backendAccessToken, LIFETIMES.backendAccessToken)
            : (sc.accessTokenTtl ?? LIFETIMES.accessToken);
          return { scope: scope.join(' '), audience: urls.iss, accessTokenFormat: 'opaque', accessTokenTTL: ttl };
        },
      },
    },
    pkce: {
      // SMART 2.2: PKCE S256 for every app; `if-sent` per client for legacy apps.
      required: (_ctx, client) => loadedClient(client.clientId)?.pkce !== 'if-sent',
    },
    async issueRefreshToken(_ctx, client, code) {
      return client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || code.scopes.has('online_access'));
    },
    // Rotation on every use with reuse detection (OAuth 2.0 Security BCP §4.14).
    rotateRefreshToken: () => true,
    async expiresWithSession(_ctx, code) {
      return !code.scopes.has('offline_access');
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken') return undefined;
      const grantId = (token as unknown as { grantId?: string }).grantId;
      const context = grantId ? await deps.contexts.get(key, grantId) : undefined;
      const resourceScopes = splitScopes((token as unknown as { scope?: string }).scope);
      const full = [...new Set([...resourceScopes, ...grantedOidcScopes(ctx)])].join(' ');
      return { ...extraClaimsOf(context ?? {}), [GRANTED_SCOPE_KEY]: full };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}`,
    },
    ttl: {
      AccessToken: (_ctx, _token, client) => loadedClient(client?.clientId)?.accessTokenTtl ?? LIFETIMES.accessToken,
      ClientCredentials: LIFETIMES.backendAccessToken,
      AuthorizationCode: LIFETIMES.authorizationCode,
      IdToken: LIFETIMES.idToken,
      Interaction: LIFETIMES.interaction,
      Session: LIFETIMES.session,
      RefreshToken: (_ctx, token, client) => {
        const own = loadedClient(client?.clientId)?.refreshTokenTtl;
        if (own) return own;
        return token.scopes.has('offline_access') ? LIFETIMES.offlineRefreshToken : LIFETIMES.onlineRefreshToken;
      },
      // Grants are also saved by our consent page, outside a provider request (no ctx there): the
      // interaction loaded the client through the adapter first.
      Grant: (_ctx, grant) => {
        const own = loadedClient(grant.clientId)?.refreshTokenTtl;
        return Math.max(own ?? 0, LIFETIMES.offlineRefreshToken);
      },
    },
    async assertJwtClientAuthClaimsAndHeader(_ctx, claims, header, client) {
      // client-confidential-asymmetric §"Authenticating to the Token endpoint": exp at most 5 minutes
      // ahead; a jku header must equal the registered JWKS URL.
      const now = Math.floor(Date.now() / 1000);
      if (typeof claims.exp !== 'number' || claims.exp > now + 300 + 30)
        throw new errors.InvalidClientAuth('the client assertion must expire within 5 minutes');
      if (header.jku !== undefined && header.jku !== client.jwksUri)
        throw new errors.InvalidClientAuth('the jku header must equal the registered JWKS URL');
    },
    clientBasedCORS(_ctx, origin, client) {
      const sc = loadedClient(client.clientId);
      if (!sc) return false;
      return [...sc.redirectUris, ...(sc.launchUri ? [sc.launchUri] : [])].some((u) => {
        try {
          return new URL(u).origin === origin;
        } catch {
          return false;
        }
      });
    },
    renderError: async (ctx, out) => {
      for (const [h, v] of Object.entries(PAGE_HEADERS)) ctx.set(h, v);
      ctx.type = 'html';
      ctx.body = renderErrorPage(sandbox.name, String(out.error ?? 'error'), String(out.error_description ?? 'The request failed.'));
    },
    fetch: guardedFetch as unknown as Configuration['fetch'],
  };

  const provider = new Provider(urls.issuer, configuration);
  // Absolute URLs always follow PUBLIC_URL: the dispatcher sets X-Forwarded-Proto/Host from it.
  provider.proxy = true;

  // Secrets are stored hashed: compare through scrypt instead of oidc-provider's plain equality.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    return verifySecret(this.clientSecret, actual);
  } as never;

  // SMART 2.2 §"Response" of the token endpoint: launch context at top level (also on refresh),
  // the OIDC scopes in `scope`, and Pragma: no-cache next to Cache-Control: no-store.
  // The database away (DatabaseUnavailable) is retryable, not a server fault: RFC 6749 §4.1.2.1
  // `temporarily_unavailable` with 503, instead of oidc-provider's generic server_error.
  const dbDown = new WeakSet<object>();
  provider.on('server_error', (ctx: object, err: unknown) => {
    if (err instanceof DatabaseUnavailable) dbDown.add(ctx);
  });
  provider.use(async (ctx, next) => {
    await next();
    if (dbDown.has(ctx)) {
      ctx.status = 503;
      ctx.set('retry-after', '2');
      ctx.type = 'application/json';
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the database is temporarily unavailable; retry shortly' };
      return;
    }
    const route = ctx.oidc?.route;
    if (route === 'token') {
      ctx.set('pragma', 'no-cache');
      const body = ctx.body as Record<string, unknown> | undefined;
      if (ctx.status !== 200 || !body?.access_token) return;
      const extra = (ctx.oidc.entities.AccessToken as unknown as { extra?: Record<string, unknown> } | undefined)?.extra;
      if (!extra) return;
      const grantType = ctx.oidc.params?.grant_type;
      const simulated = extra[SIMULATE_KEY];
      if ((simulated === 'token_invalid_grant' && grantType === 'authorization_code') || (simulated === 'token_expired_refresh_token' && grantType === 'refresh_token')) {
        // The launch was registered to fail here: revoke what this exchange issued and answer as a
        // real invalid grant would (RFC 6749 §5.2).
        const grantId = (ctx.oidc.entities.AccessToken as unknown as { grantId?: string } | undefined)?.grantId;
        if (grantId) await deps.table.revokeGrant(key, grantId);
        ctx.status = 400;
        ctx.body = { error: 'invalid_grant', error_description: `simulated error ${simulated} (the launch was registered with simulate_error)` };
        return;
      }
      if (typeof extra[GRANTED_SCOPE_KEY] === 'string') body.scope = extra[GRANTED_SCOPE_KEY];
      // Own properties only, set as data: a parameter named like an Object.prototype member (toString,
      // constructor, __proto__, …) is still copied, and never touches the prototype.
      for (const [k, v] of Object.entries(tokenResponseContext(extra))) if (!Object.hasOwn(body, k)) setOwn(body, k, v);
      if (typeof extra[LAUNCH_HASH_KEY] === 'string' && ctx.oidc.params?.grant_type === 'authorization_code') {
        const at = ctx.oidc.entities.AccessToken as unknown as { clientId?: string; accountId?: string };
        deps.lifecycle.recordToken(key, extra[LAUNCH_HASH_KEY], at.clientId, at.accountId, typeof extra.patient === 'string' ? extra.patient : undefined);
      }
    } else if (route === 'introspection') {
      const body = ctx.body as Record<string, unknown> | undefined;
      if (!body || typeof body !== 'object') return;
      if (typeof body[GRANTED_SCOPE_KEY] === 'string') body.scope = body[GRANTED_SCOPE_KEY];
      delete body[GRANTED_SCOPE_KEY];
      delete body[LAUNCH_HASH_KEY];
      delete body[SIMULATE_KEY];
      for (const k of Object.keys(body)) {
        const name = unescapeKey(k);
        if (name === k) continue;
        const v = body[k];
        delete body[k];
        if (!Object.hasOwn(body, name)) setOwn(body, name, v);
      }
    }
  });

  return { sandbox, urls, provider, mountPath, keys };
}
