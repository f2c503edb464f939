/**
 * HTTP binding of the launch registration service at `{iss}/_services/smart/Launch` (docs/architecture.md §3
 * and §5). Only the secured base (`/{sandbox}/data`) has it, as in HSPC; browser callers (CDS Hooks
 * sandbox, consoles) get CORS with preflight.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { FhirError, notFound } from '../errors/errors.js';
import { requireBearerGrant } from '../fhir/access/bearer.js';
import { corsOnRequest, preflightHandler } from '../http/cors.js';
import type { Services } from '../services.js';
import type { Sandbox } from '../storage/types.js';
import { RateLimiter } from './rate-limit.js';
import type { Caller } from './service.js';

const BASE = '/:sandbox/data/_services/smart/Launch';
/** A launch registration is small; anything bigger is a mistake or abuse (413). */
export const LAUNCH_BODY_LIMIT = 64 * 1024;
const METHODS = 'GET, POST, DELETE';

const DESCRIPTION =
  'Welcome to the SMART Launch endpoint! POST {"client_id":"…","parameters":{"patient":"…","need_patient_banner":false}} ' +
  'with Authorization: Bearer <token with smart/orchestrate_launch> to register a launch context; the response carries launch_id ' +
  'and launch_url. GET or DELETE …/Launch/{launch_id} inspects or revokes one.\n';

export async function registerLaunchRoutes(app: FastifyInstance, opts: { config: Config; services: Services }): Promise<void> {
  const { services } = opts;
  const openLimiter = new RateLimiter(30, 60_000);

  const sandboxOf = async (request: FastifyRequest): Promise<Sandbox> => {
    const id = (request.params as { sandbox: string }).sandbox;
    const sandbox = await services.tenants.get(id);
    if (!sandbox) throw notFound(`sandbox ${id} does not exist`);
    return sandbox;
  };

  const callerOf = async (request: FastifyRequest, sandbox: Sandbox): Promise<Caller> => {
    const header = request.headers.authorization;
    if (header === undefined && sandbox.openRegistration) {
      // Legacy open registration (sandbox opt-in): no token at all; anything else takes the bearer check.
      if (!openLimiter.take(`${sandbox.key}:${request.ip}`))
        throw new FhirError(429, [{ severity: 'error', code: 'throttled', diagnostics: 'too many open launch registrations; slow down' }], { 'retry-after': '60' });
      return { kind: 'anonymous' };
    }
    const grant = await requireBearerGrant(services.auth.verifier, sandbox, header);
    return { kind: 'token', grant };
  };

  // CORS for browser callers (CDS Hooks sandbox, launchers) on every answer, errors included (src/http/cors.ts).
  const cors = { onRequest: corsOnRequest };
  app.options(BASE, cors, preflightHandler(METHODS));
  app.options(`${BASE}/:launchId`, cors, preflightHandler(METHODS));

  app.get(BASE, cors, async (request, reply) => {
    await sandboxOf(request);
    return reply.type('text/plain; charset=utf-8').send(DESCRIPTION);
  });

  app.post(BASE, { ...cors, bodyLimit: LAUNCH_BODY_LIMIT }, async (request, reply) => {
    const sandbox = await sandboxOf(request);
    const caller = await callerOf(request, sandbox);
    const out = await services.launch.register(sandbox, caller, request.body);
    return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(out);
  });

  app.get(`${BASE}/:launchId`, cors, async (request, reply) => {
    const sandbox = await sandboxOf(request);
    const caller = await callerOf(request, sandbox);
    const out = await services.launch.inspect(sandbox, caller, (request.params as { launchId: string }).launchId);
    return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(out);
  });

  app.delete(`${BASE}/:launchId`, cors, async (request, reply) => {
    const sandbox = await sandboxOf(request);
    const caller = await callerOf(request, sandbox);
    await services.launch.revoke(sandbox, caller, (request.params as { launchId: string }).launchId);
    return reply.code(204).send();
  });
}
