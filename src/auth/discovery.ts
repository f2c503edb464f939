/**
 * SMART discovery (SMART 2.2 §"Using well-known"): `GET {iss}/.well-known/smart-configuration`,
 * absolute URLs, `application/json` whatever the Accept header, CORS `*` (§"Transport"). Served by
 * `--role api` processes, so it is built from the URL contract alone, without a provider instance.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { sandboxUrls } from '../config/urls.js';
import { notFound } from '../errors/errors.js';
import { PUBLIC_CORS, PUBLIC_PREFLIGHT } from '../http/cors.js';
import { sendOutcome } from '../http/errors.js';
import type { TenantStore } from '../storage/types.js';

export const CAPABILITIES = [
  'launch-ehr',
  'launch-standalone',
  'authorize-post',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'sso-openid-connect',
  'context-banner',
  'context-style',
  'context-ehr-patient',
  'context-ehr-encounter',
  'context-standalone-patient',
  'context-standalone-encounter',
  'permission-offline',
  'permission-online',
  'permission-patient',
  'permission-user',
  'permission-v1',
  'permission-v2',
];

/** Every scope listed is one the server grants (to clients registered for it). */
export const SCOPES_SUPPORTED = [
  'openid',
  'fhirUser',
  'profile',
  'launch',
  'launch/patient',
  'launch/encounter',
  'offline_access',
  'online_access',
  'patient/*.cruds',
  'patient/*.rs',
  'patient/*.read',
  'patient/*.write',
  'patient/*.*',
  'user/*.cruds',
  'user/*.rs',
  'user/*.read',
  'user/*.write',
  'user/*.*',
  'system/*.cruds',
  'system/*.rs',
  'system/*.read',
  'system/*.*',
  'smart/orchestrate_launch',
];

export const CLIENT_AUTH_ALGS = ['RS384', 'ES384', 'RS256', 'ES256', 'RS512', 'ES512', 'PS256', 'PS384', 'PS512'];

export function smartConfiguration(publicUrl: string, sandboxId: string): Record<string, unknown> {
  const u = sandboxUrls(publicUrl, sandboxId);
  return {
    issuer: u.issuer,
    jwks_uri: u.jwks,
    authorization_endpoint: u.authorize,
    token_endpoint: u.token,
    introspection_endpoint: u.introspect,
    revocation_endpoint: u.revoke,
    registration_endpoint: u.register,
    userinfo_endpoint: u.userinfo,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: CLIENT_AUTH_ALGS,
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: CAPABILITIES,
    // Not a SMART-defined field (extra fields are allowed): the Bulk Data Access IG 2.0 kick-off
    // endpoints of this FHIR base (src/bulk, issue 8), for backend-services clients.
    bulk_data_export_endpoints: [`${u.iss}/$export`, `${u.iss}/Patient/$export`, `${u.iss}/Group/{id}/$export`],
  };
}

/** The default SMART style document (SMART 2.2 §"Styling"; `smart_style_url` when a launch names none). */
export const SMART_STYLE = {
  color_background: '#edeae3',
  color_error: '#9e2d2d',
  color_highlight: '#69b5ce',
  color_modal_backdrop: '',
  color_success: '#498e49',
  color_text: '#303030',
  dim_border_radius: '6px',
  dim_font_size: '13px',
  dim_spacing_size: '20px',
  font_family_body: "Georgia, Times, 'Times New Roman', serif",
  font_family_heading: "'HelveticaNeue-Light', Helvetica, Arial, 'Lucida Grande', sans-serif",
};

export async function registerDiscoveryRoutes(app: FastifyInstance, deps: { config: Config; tenants: TenantStore }): Promise<void> {
  const url = '/:sandbox/data/.well-known/smart-configuration';
  app.get(url, async (request: FastifyRequest, reply: FastifyReply) => {
    reply.headers(PUBLIC_CORS);
    const id = (request.params as { sandbox: string }).sandbox;
    const sandbox = await deps.tenants.get(id);
    if (!sandbox) return sendOutcome(reply, notFound(`sandbox ${id} does not exist`));
    return reply.header('cache-control', 'no-cache').type('application/json; charset=utf-8').send(smartConfiguration(deps.config.publicUrl, sandbox.id));
  });
  app.options(url, async (_request, reply) => reply.code(204).headers(PUBLIC_PREFLIGHT).send());
}
