/**
 * Apps built on older SMART clients (HSPC-era apps, the CDS Hooks sandbox) send no PKCE
 * `code_challenge`. SMART App Launch 2.2 requires PKCE (S256), so such an app is refused unless its
 * PKCE setting is `if-sent`. oidc-provider would send the refusal back to the app, which often shows a
 * blank page; instead the user gets an error page that names the setting and how to change it.
 */
import type { Sandbox } from '../storage/types.js';
import type { ClientLookup } from './types.js';

/**
 * The explanation when an authorization request of a known app, to one of its registered redirect
 * URIs, lacks the code_challenge its PKCE setting requires; undefined otherwise (oidc-provider then
 * answers as usual). Reads no database when the request carries a code_challenge.
 */
export async function missingPkce(clients: ClientLookup, sandbox: Sandbox, q: URLSearchParams): Promise<{ description: string; back?: string } | undefined> {
  if (q.get('code_challenge')) return undefined;
  const clientId = q.get('client_id');
  if (!clientId) return undefined;
  const client = await clients.getClient(sandbox.key, clientId);
  if (!client || client.pkce === 'if-sent') return undefined;
  const redirect = q.get('redirect_uri');
  if (redirect !== null && !client.redirectUris.includes(redirect)) return undefined;
  const description =
    `app ${clientId} sent no PKCE code_challenge, and its PKCE setting is "required" (SMART App Launch 2.2). ` +
    'Apps built on older SMART clients send none: set the app\'s PKCE to "checked if sent" in the console (Apps → Edit → PKCE), ' +
    `or register it again with: smart-sandbox client add ${sandbox.id} ${clientId} … --pkce if-sent`;
  // The error still reaches the app if the user follows the link (RFC 6749 §4.1.2.1).
  const target = redirect ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
  if (!target) return { description };
  const back = new URL(target);
  back.searchParams.set('error', 'invalid_request');
  back.searchParams.set('error_description', description);
  const state = q.get('state');
  if (state !== null) back.searchParams.set('state', state);
  return { description, back: back.href };
}
