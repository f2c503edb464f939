/**
 * HTTP binding of the launch registration service at `{iss}/_services/smart/Launch` (architecture §3
 * and §5). Only the secured base (`/{sandbox}/data`) has it, as in HSPC; browser callers (CDS Hooks
 * sandbox, consoles) get CORS with preflight.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { FhirError, notFound, unauthorized } from '../errors/errors.js';
import type { Services } from '../services.js';
import type { Sandbox } from '../storage/types.js';
import { RateLimiter } from './rate-limit.js';
import type { Caller } from './service.js';

const BASE = '/:sandbox/data/_services/smart/Launch';
/** A launch registration is small; anything bigger is a mistake or abuse (413). */
export const LAUNCH_BODY_LIMIT = 64 * 1024;

const DESCRIPTION =
  'Welcome to the SMART Launch endpoint! POST {"client_id":"…","parameters":{"patient":"…","need_patient_banner":false}} ' +
  'with Authorization: Bearer <token with smart/orchestrate_launch> to register a launch context; the response carries launch_id ' +
  'and launch_url. GET or DELETE …/Launch/{launch_id} inspects or revokes one.\n';

function cors(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('access-control-allow-origin', request.headers.origin ?? '*');
  reply.header('vary', 'Origin');
  reply.header('access-control-expose-headers', 'Location, Content-Type');
}

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
    if (header === undefined) {
      if (!sandbox.openRegistration) throw unauthorized('a bearer token is required');
      if (!openLimiter.take(`${sandbox.key}:${request.ip}`))
        throw new FhirError(429, [{ severity: 'error', code: 'throttled', diagnostics: 'too many open launch registrations; slow down' }], { 'retry-after': '60' });
      return { kind: 'anonymous' };
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw unauthorized('the Authorization header must be "Bearer <token>"');
    const grant = await services.auth.verifier.verify(sandbox, m[1]);
    if (!grant) throw unauthorized('the access token is invalid, expired, revoked or not for this sandbox');
    return { kind: 'token', grant };
  };

  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    cors(request, reply);
    reply.header('access-control-allow-methods', 'GET, POST, DELETE, OPTIONS');
    reply.header('access-control-allow-headers', 'Authorization, Content-Type, Accept');
    reply.header('access-control-max-age', '600');
    return reply.code(204).send();
  };
  app.options(BASE, preflight);
  app.options(`${BASE}/:launchId`, preflight);

  app.get(BASE, async (request, reply) => {
    await sandboxOf(request);
    cors(request, reply);
    return reply.type('text/plain; charset=utf-8').send(DESCRIPTION);
  });

  app.post(BASE, { bodyLimit: LAUNCH_BODY_LIMIT }, async (request, reply) => {
    cors(request, reply);
    const sandbox = await sandboxOf(request);
    const caller = await callerOf(request, sandbox);
    const out = await services.launch.register(sandbox, caller, request.body);
    return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(out);
  });

  app.get(`${BASE}/:launchId`, async (request, reply) => {
    cors(request, reply);
    const sandbox = await sandboxOf(request);
    const caller = await callerOf(request, sandbox);
    const out = await services.launch.inspect(sandbox, caller, (request.params as { launchId: string }).launchId);
    return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(out);
  });

  app.delete(`${BASE}/:launchId`, async (request, reply) => {
    cors(request, reply);
    const sandbox = await sandboxOf(request);
    const caller = await callerOf(request, sandbox);
    await services.launch.revoke(sandbox, caller, (request.params as { launchId: string }).launchId);
    return reply.code(204).send();
  });
}
