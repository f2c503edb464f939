/**
 * Token introspection authorised by a bearer token (RFC 7662 §2.1: "the protected resource … MAY use
 * … a separate OAuth 2.0 access token"; SMART 2.2 §"Token Introspection", checklist I1: the endpoint
 * "accepts Bearer of an authorized client"). oidc-provider only accepts client authentication, so
 * requests with `Authorization: Bearer …` are answered here from the same store.
 *
 * Who may look: an active access token of this sandbox may introspect itself and the tokens of its own
 * client; any other token reads as `{"active":false}` (RFC 7662 §2.2 lets the server hide what the
 * caller may not see). An invalid bearer is refused with 401 (RFC 6750 §3).
 */
import type { FastifyReply } from 'fastify';
import type { TokenVerifier } from '../fhir/access/types.js';
import type { Sandbox } from '../storage/types.js';
import { sandboxUrls } from '../config/urls.js';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

export async function introspectWithBearer(
  reply: FastifyReply,
  o: { sandbox: Sandbox; publicUrl: string; verifier: TokenVerifier; bearer: string; form: URLSearchParams },
): Promise<FastifyReply> {
  const caller = await o.verifier.verify(o.sandbox, o.bearer);
  if (!caller) {
    return reply
      .code(401)
      .headers({ ...NO_STORE, 'www-authenticate': 'Bearer error="invalid_token", error_description="the bearer token is invalid or expired"' })
      .send({ error: 'invalid_token', error_description: 'the bearer token is invalid or expired' });
  }
  const token = o.form.get('token');
  if (!token) return reply.code(400).headers(NO_STORE).send({ error: 'invalid_request', error_description: 'missing required parameter "token"' });
  const grant = token === o.bearer ? caller : await o.verifier.verify(o.sandbox, token);
  if (!grant || grant.clientId !== caller.clientId) return reply.code(200).headers(NO_STORE).send({ active: false });
  const urls = sandboxUrls(o.publicUrl, o.sandbox.id);
  return reply
    .code(200)
    .headers(NO_STORE)
    .send({
      ...grant.context,
      active: true,
      scope: grant.scope,
      client_id: grant.clientId,
      token_type: 'Bearer',
      exp: grant.expiresAt,
      iss: urls.issuer,
      aud: urls.iss,
      ...(grant.sub ? { sub: grant.sub } : {}),
      ...(grant.fhirUser ? { fhirUser: `${urls.iss}/${grant.fhirUser}` } : {}),
      ...(grant.patient ? { patient: grant.patient } : {}),
      ...(grant.encounter ? { encounter: grant.encounter } : {}),
    });
}
