/**
 * The UserInfo endpoint for SMART access tokens (OpenID Connect Core §5.3). oidc-provider serves
 * userinfo only to access tokens without a resource audience, and every SMART token here is bound to
 * the sandbox's FHIR base (RFC 8707, docs/auth-server.md §7), so the library would refuse them all with
 * `invalid_token`. Requests with `Authorization: Bearer …` are answered here from the same store as the
 * FHIR API's token check, with the claims the id_token carries for the granted scopes: `sub` (`openid`),
 * `fhirUser` as an absolute URL (`fhirUser`), and `name` plus `profile` as the persona's relative
 * reference, e.g. `Practitioner/ID`, as HSPC sent it and older SMART clients read it (`profile`).
 */
import type { FastifyReply } from 'fastify';
import { sandboxUrls } from '../config/urls.js';
import type { TokenVerifier } from '../fhir/access/types.js';
import { hasScope } from '../smart/scopes.js';
import type { Sandbox } from '../storage/types.js';
import type { PersonaLookup } from './types.js';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** RFC 6750 §3.1: 401 `invalid_token`, or 403 `insufficient_scope`, with WWW-Authenticate. */
function refuse(reply: FastifyReply, status: 401 | 403, error: string, description: string): FastifyReply {
  return reply
    .code(status)
    .headers({ ...NO_STORE, 'www-authenticate': `Bearer error="${error}", error_description="${description}"` })
    .send({ error, error_description: description });
}

export async function userinfoWithBearer(
  reply: FastifyReply,
  o: { sandbox: Sandbox; publicUrl: string; verifier: TokenVerifier; personas: PersonaLookup; bearer: string },
): Promise<FastifyReply> {
  const grant = await o.verifier.verify(o.sandbox, o.bearer);
  if (!grant?.sub) return refuse(reply, 401, 'invalid_token', 'the access token is invalid, expired, or was issued to no user');
  if (!hasScope(grant.scope, 'openid')) return refuse(reply, 403, 'insufficient_scope', 'userinfo needs a token granted the openid scope');
  const persona = await o.personas.getPersona(o.sandbox.key, grant.sub);
  if (!persona) return refuse(reply, 401, 'invalid_token', 'the token user is no longer a persona of this sandbox');
  const claims: Record<string, string> = { sub: grant.sub };
  if (hasScope(grant.scope, 'fhirUser')) claims.fhirUser = `${sandboxUrls(o.publicUrl, o.sandbox.id).iss}/${persona.resource}`;
  if (hasScope(grant.scope, 'profile')) {
    if (persona.name) claims.name = persona.name;
    claims.profile = persona.resource;
  }
  return reply.code(200).headers(NO_STORE).send(claims);
}
