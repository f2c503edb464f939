/**
 * Dynamic client registration (RFC 7591) at `{issuer}/register`, enabled only with the sandbox's
 * initial access token (brief §7). oidc-provider validates the metadata; we store the client like
 * `client add` would, with the default interactive scopes: registration never grants restricted
 * scopes (`system/…`, `smart/orchestrate_launch`), which only `client add` can give.
 */
import type { AdapterPayload } from 'oidc-provider';
import { DEFAULT_APP_SCOPE } from '../storage/sqlite/client-store.js';
import type { ClientAddOptions } from './types.js';

export function registeredClientOptions(m: AdapterPayload): ClientAddOptions {
  const method = String(m.token_endpoint_auth_method ?? 'client_secret_basic');
  const grants = (Array.isArray(m.grant_types) ? m.grant_types : ['authorization_code']).filter(
    (g): g is string => g === 'authorization_code' || g === 'refresh_token',
  );
  if (!grants.includes('refresh_token') && grants.includes('authorization_code')) grants.push('refresh_token');
  return {
    clientId: String(m.client_id),
    name: typeof m.client_name === 'string' ? m.client_name : undefined,
    public: method === 'none' ? true : undefined,
    secret: method === 'client_secret_basic' || method === 'client_secret_post' ? String(m.client_secret) : undefined,
    secretMethod: method === 'client_secret_post' ? 'client_secret_post' : undefined,
    jwksUrl: method === 'private_key_jwt' && typeof m.jwks_uri === 'string' ? m.jwks_uri : undefined,
    jwks: method === 'private_key_jwt' && m.jwks ? (m.jwks as ClientAddOptions['jwks']) : undefined,
    redirectUris: Array.isArray(m.redirect_uris) ? (m.redirect_uris as string[]) : [],
    grantTypes: grants.length ? grants : ['authorization_code', 'refresh_token'],
    scope: DEFAULT_APP_SCOPE,
  };
}
