/**
 * App registration from a SMART app manifest (issue 6 "Apps"; docs/hspc-compatibility.md §3: the HSPC
 * Sandbox Manager read `software_id, client_name, launch_url, redirect_uris, scope,
 * token_endpoint_auth_method, grant_types` from `/.well-known/smart/manifest.json`), i.e. RFC 7591
 * client metadata plus SMART's `launch_url` (alias `initiate_login_uri`).
 *
 * Fetching a manifest URL follows the outbound policy of docs/architecture.md §6: http(s) only, loopback
 * allowed, private, link-local and metadata addresses refused, no redirects, 5 s, 256 KiB.
 */
import type { ClientAddOptions } from '../auth/types.js';
import { checkOutboundUrl } from '../auth/outbound.js';
import { parseJsonWithinLimits } from '../config/limits.js';
import { badRequest, FhirError } from '../errors/errors.js';

export const MANIFEST_TIMEOUT_MS = 5000;
export const MANIFEST_MAX_BYTES = 256 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(m: Record<string, unknown>, key: string): string | undefined {
  const v = m[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(`manifest field ${key} must be a string`, [key]);
  return v;
}

function strings(m: Record<string, unknown>, key: string): string[] | undefined {
  const v = m[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest(`manifest field ${key} must be an array of strings`, [key]);
  return v as string[];
}

/** A client id derived from a name: what HSPC did when a manifest had no software_id. */
function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
}

/**
 * Maps a manifest onto `client add` options. `token_endpoint_auth_method` defaults to
 * `client_secret_basic` (RFC 7591 §2) unless keys are given (then `private_key_jwt`); the client id
 * is `client_id`, else `software_id`, else derived from `client_name`, unless the caller overrides it.
 */
export function manifestToClient(manifest: unknown, overrides: { clientId?: string } = {}): ClientAddOptions {
  if (!isObject(manifest)) throw badRequest('the manifest must be a JSON object (SMART app manifest / RFC 7591 client metadata)');
  const name = str(manifest, 'client_name');
  const clientId = overrides.clientId || str(manifest, 'client_id') || str(manifest, 'software_id') || (name ? slug(name) : undefined);
  if (!clientId) throw badRequest('the manifest names no client: give client_id, software_id or client_name (or a client id in the form)');
  const jwksUri = str(manifest, 'jwks_uri');
  const jwks = manifest.jwks;
  if (jwks !== undefined && !isObject(jwks)) throw badRequest('manifest field jwks must be a JSON Web Key Set object', ['jwks']);
  const hasKeys = jwksUri !== undefined || jwks !== undefined;
  const method = str(manifest, 'token_endpoint_auth_method') ?? (hasKeys ? 'private_key_jwt' : 'client_secret_basic');
  const opts: ClientAddOptions = {
    clientId,
    name: name ?? clientId,
    redirectUris: strings(manifest, 'redirect_uris'),
    launchUri: str(manifest, 'launch_url') ?? str(manifest, 'initiate_login_uri'),
    scope: str(manifest, 'scope'),
    grantTypes: strings(manifest, 'grant_types'),
  };
  switch (method) {
    case 'none':
      opts.public = true;
      break;
    case 'client_secret_basic':
    case 'client_secret_post':
      opts.secretMethod = method;
      break;
    case 'private_key_jwt':
      if (!hasKeys) throw badRequest('token_endpoint_auth_method private_key_jwt needs jwks_uri or jwks in the manifest', ['jwks_uri']);
      if (jwksUri !== undefined) opts.jwksUrl = jwksUri;
      else opts.jwks = jwks as { keys: Record<string, unknown>[] };
      break;
    default:
      throw badRequest(`token_endpoint_auth_method ${method} is not supported (none, client_secret_basic, client_secret_post, private_key_jwt)`, [
        'token_endpoint_auth_method',
      ]);
  }
  if (method !== 'private_key_jwt' && hasKeys) throw badRequest(`jwks/jwks_uri given but token_endpoint_auth_method is ${method}`, ['jwks']);
  return opts;
}

/** Fetches a manifest under the outbound policy; every failure is a 400 saying why. */
export async function fetchManifest(url: string): Promise<unknown> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest(`manifest URL is not an absolute URL: ${url}`, ['manifest_url']);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw badRequest('the manifest URL must be http(s)', ['manifest_url']);
  try {
    await checkOutboundUrl(parsed.href);
  } catch (e) {
    throw badRequest(`manifest URL refused: ${(e as Error).message}`, ['manifest_url']);
  }
  let res: Response;
  try {
    res = await fetch(parsed.href, { redirect: 'error', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(MANIFEST_TIMEOUT_MS) });
  } catch (e) {
    const err = e as Error;
    const why = err.name === 'TimeoutError' ? `no answer within ${MANIFEST_TIMEOUT_MS / 1000} s` : 'the server could not be reached or redirected elsewhere';
    throw badRequest(`fetching the manifest failed: ${why}`, ['manifest_url']);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw badRequest(`fetching the manifest failed: HTTP ${res.status}`, ['manifest_url']);
  }
  const text = await readCapped(res, MANIFEST_MAX_BYTES);
  try {
    return parseJsonWithinLimits(text);
  } catch (e) {
    if (e instanceof FhirError) throw e;
    throw badRequest('the manifest is not valid JSON', ['manifest_url']);
  }
}

async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) {
    await res.body?.cancel();
    throw badRequest(`the manifest is larger than ${max / 1024} KiB`, ['manifest_url']);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw badRequest(`the manifest is larger than ${max / 1024} KiB`, ['manifest_url']);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
