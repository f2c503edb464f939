/**
 * Plain OAuth client steps for tests that need exact control (errors, replays) where fhirclient
 * would hide them: PKCE authorize URLs, token requests, client_credentials.
 */
import crypto from 'node:crypto';

export function pkce(): { verifier: string; challenge: string } {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
}

export interface AuthorizeRequest {
  issuer: string;
  aud: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  launch?: string;
  state?: string;
}

export function authorizeUrl(r: AuthorizeRequest): { url: string; verifier: string; state: string } {
  const { verifier, challenge } = pkce();
  const state = r.state ?? crypto.randomBytes(8).toString('hex');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: r.clientId,
    redirect_uri: r.redirectUri,
    scope: r.scope,
    aud: r.aud,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  if (r.launch !== undefined) q.set('launch', r.launch);
  return { url: `${r.issuer}/authorize?${q}`, verifier, state };
}

export async function tokenRequest(issuer: string, form: Record<string, string>, basic?: { id: string; secret: string }): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString('base64')}`;
  const r = await fetch(`${issuer}/token`, { method: 'POST', headers, body: new URLSearchParams(form) });
  return { status: r.status, body: await r.json(), headers: r.headers };
}

export async function clientCredentials(issuer: string, id: string, secret: string, scope: string): Promise<string> {
  const r = await tokenRequest(issuer, { grant_type: 'client_credentials', scope }, { id, secret });
  if (r.status !== 200) throw new Error(`client_credentials for ${id} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.access_token;
}

/** Follows one authorize request with `redirect: manual` and returns the redirect's query (code or error). */
export async function authorizeRedirect(url: string, cookie?: string): Promise<{ status: number; location?: URL; body: string }> {
  const r = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  const loc = r.headers.get('location');
  return { status: r.status, location: loc ? new URL(loc, url) : undefined, body: await r.text() };
}
