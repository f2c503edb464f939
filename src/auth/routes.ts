/**
 * Mounts the per-sandbox authorization servers in fastify (docs/auth-server.md §2):
 * `/{sandbox}/auth/*` is handed to that sandbox's oidc-provider from an `onRequest` hook (before
 * fastify reads the body, which oidc-provider parses itself), except our interaction pages, which
 * are ordinary fastify routes. Also serves `GET /smart-style.json`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../errors/errors.js';
import { sendOutcome } from '../http/errors.js';
import { DatabaseUnavailable } from '../storage/backend.js';
import type { Sandbox, TenantStore } from '../storage/types.js';
import { handleInteraction } from './interactions.js';
import { namePublicRefreshClient } from './public-refresh.js';
import { PAGE_HEADERS, renderErrorPage } from './pages.js';
import type { AuthDeps, SandboxProvider } from './provider.js';
import { SMART_STYLE } from './discovery.js';
import type { TokenVerifier } from '../fhir/access/types.js';
import { introspectWithBearer } from './introspect-bearer.js';
import { corsHeaders, PUBLIC_CORS, PUBLIC_PREFLIGHT, preflightHeaders, setCorsHeaders } from '../http/cors.js';
import { missingPkce } from './pkce-hint.js';
import { userinfoWithBearer } from './userinfo.js';

/** Endpoints (below the issuer) that browser apps call cross-origin: token, introspection, revocation. */
const BROWSER_ENDPOINTS = new Set(['/token', '/introspect', '/revoke']);

export interface AuthRouteDeps {
  deps: AuthDeps;
  tenants: TenantStore;
  /** For introspection authorised by a bearer token (introspect-bearer.ts). */
  verifier: TokenVerifier;
  providerFor(sandbox: Sandbox): Promise<SandboxProvider & { handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> }>;
}

/**
 * Absolute URLs and cookie security follow PUBLIC_URL, whatever Host the request came with
 * (oidc-provider builds endpoint URLs from the request; the provider runs with `proxy = true`).
 */
export function applyPublicUrl(raw: IncomingMessage, publicUrl: string): void {
  const u = new URL(publicUrl);
  raw.headers['x-forwarded-proto'] = u.protocol.slice(0, -1);
  raw.headers['x-forwarded-host'] = u.host;
}

/**
 * SMART 2.2 `authorize-post`: a form POST to /authorize is processed as the equivalent GET.
 * (oidc-provider's own POST support demands SameSite=None session cookies, which browsers refuse
 * without Secure, i.e. on plain-http sandboxes; a cross-site POST then simply asks to sign in again.)
 */
async function readAuthorizeForm(raw: IncomingMessage): Promise<string | undefined> {
  if (!String(raw.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined;
  // Plain listeners, not `for await … return`: leaving an async iterator early destroys the request
  // stream, and the keep-alive connection then never answered its next request (found by the fuzz
  // suite). Over the limit we stop reading; the caller's answer closes the connection (FORM_REFUSED).
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: string | undefined) => {
      raw.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= FORM_LIMIT) chunks.push(chunk);
      else {
        raw.pause();
        done(undefined);
      }
    };
    const onEnd = () => done(new URLSearchParams(Buffer.concat(chunks).toString('utf8')).toString());
    const onError = (e: Error) => {
      raw.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      reject(e);
    };
    const onClose = () => done(undefined);
    raw.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

const FORM_LIMIT = 64 * 1024;
/**
 * Headers of the 400 for a form we did not read to its end: the rest of the body is still on the
 * connection, so it must be closed after the answer rather than parsed as the next request.
 */
const FORM_REFUSED = { 'cache-control': 'no-store', connection: 'close' };

export async function registerAuthRoutes(app: FastifyInstance, r: AuthRouteDeps): Promise<void> {
  const sandboxOf = async (request: FastifyRequest, reply: FastifyReply): Promise<Sandbox | undefined> => {
    const id = (request.params as { sandbox: string }).sandbox;
    const sandbox = await r.tenants.get(id);
    if (!sandbox) sendOutcome(reply, notFound(`sandbox ${id} does not exist`));
    return sandbox;
  };

  const dispatch = async (request: FastifyRequest, reply: FastifyReply) => {
    // Browser apps call the token, introspection and revocation endpoints with fetch (src/http/cors.ts);
    // the headers go on the raw response, so they hold whoever answers (oidc-provider skips its own CORS
    // when they are there). No other endpoint of the authorization server gets them from here.
    const endpoint = (request.raw.url ?? '').split('?')[0].replace(/^\/[^/]+\/auth/, '');
    if (BROWSER_ENDPOINTS.has(endpoint)) {
      const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
      setCorsHeaders(reply.raw, preflight ? preflightHeaders(request.headers, 'POST') : corsHeaders(request.headers));
      if (preflight) return reply.code(204).send();
    }
    let sandbox: Sandbox | undefined;
    let sp: Awaited<ReturnType<AuthRouteDeps['providerFor']>>;
    try {
      sandbox = await sandboxOf(request, reply);
      if (!sandbox) return reply;
      sp = await r.providerFor(sandbox);
    } catch (e) {
      // The database away: OAuth clients get RFC 6749 `temporarily_unavailable`, not an OperationOutcome.
      if (!(e instanceof DatabaseUnavailable)) throw e;
      return reply
        .code(503)
        .header('retry-after', '2')
        .header('cache-control', 'no-store')
        .send({ error: 'temporarily_unavailable', error_description: 'the database is temporarily unavailable; retry shortly' });
    }
    const raw = request.raw as IncomingMessage & { baseUrl?: string };
    const url = raw.url ?? '/';
    if (!url.startsWith(sp.mountPath)) return sendOutcome(reply, notFound('no such authorization server endpoint'));
    const rest = url.slice(sp.mountPath.length);
    raw.url = rest.startsWith('/') ? rest : `/${rest}`;
    // oidc-provider derives its mount path from req.baseUrl when originalUrl is not set (middie-style).
    raw.baseUrl = sp.mountPath;
    applyPublicUrl(raw, r.deps.config.publicUrl);
    if (raw.method === 'POST' && raw.url.split('?')[0] === '/authorize') {
      const query = await readAuthorizeForm(raw);
      if (query === undefined) return sendOutcome(reply.headers(FORM_REFUSED), badRequest('POST /authorize needs an application/x-www-form-urlencoded body of at most 64 KiB'));
      raw.method = 'GET';
      raw.url = `/authorize?${query}`;
    }
    if (raw.url.split('?')[0] === '/authorize') {
      const missing = await missingPkce(r.deps.clients, sandbox, new URLSearchParams(raw.url.split('?')[1] ?? ''));
      if (missing) return reply.code(400).headers(PAGE_HEADERS).send(renderErrorPage(sandbox.name, 'invalid_request', missing.description, missing.back));
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(String(raw.headers.authorization ?? ''));
    if (raw.method === 'POST' && raw.url.split('?')[0] === '/introspect' && bearer) {
      const form = await readAuthorizeForm(raw);
      if (form === undefined)
        return reply.code(400).headers(FORM_REFUSED).send({ error: 'invalid_request', error_description: 'introspection takes an application/x-www-form-urlencoded body of at most 64 KiB' });
      return introspectWithBearer(reply, { sandbox, publicUrl: r.deps.config.publicUrl, verifier: r.verifier, bearer: bearer[1], form: new URLSearchParams(form) });
    }
    if ((raw.method === 'GET' || raw.method === 'POST') && raw.url.split('?')[0] === '/userinfo' && bearer) {
      return userinfoWithBearer(reply, { sandbox, publicUrl: r.deps.config.publicUrl, verifier: r.verifier, personas: r.deps.personas, bearer: bearer[1] });
    }
    if (raw.method === 'POST' && raw.url.split('?')[0] === '/token') {
      const named = await namePublicRefreshClient(raw, async (token) => {
        const clientId = await r.deps.table.clientOf(sandbox.key, 'RefreshToken', token);
        if (!clientId) return null;
        return (await r.deps.clients.getClient(sandbox.key, clientId))?.authMethod === 'none' ? clientId : undefined;
      });
      if (named === 'unknown-token') {
        return reply
          .code(400)
          .header('cache-control', 'no-store')
          .header('pragma', 'no-cache')
          .send({ error: 'invalid_grant', error_description: 'the refresh token is invalid, expired or revoked' });
      }
    }
    reply.hijack();
    await sp.handler(raw, reply.raw);
    return reply;
  };
  const unreachable = async () => undefined;
  for (const url of ['/:sandbox/auth', '/:sandbox/auth/*']) {
    app.route({ method: ['GET', 'HEAD', 'POST', 'OPTIONS', 'DELETE', 'PUT'], url, onRequest: dispatch, handler: unreachable });
  }

  const interaction = async (request: FastifyRequest, reply: FastifyReply) => {
    const sandbox = await sandboxOf(request, reply);
    if (!sandbox) return reply;
    applyPublicUrl(request.raw, r.deps.config.publicUrl);
    try {
      return await handleInteraction(await r.providerFor(sandbox), r.deps, request, reply);
    } catch (e) {
      // oidc-provider errors (expired interaction, session mismatch…) are the user's to read, in words.
      const oidc = e as { error?: string; error_description?: string; statusCode?: number };
      if (typeof oidc.error === 'string' && (oidc.statusCode ?? 500) < 500) {
        return reply
          .code(oidc.statusCode ?? 400)
          .headers(PAGE_HEADERS)
          .send(renderErrorPage(sandbox.name, oidc.error, oidc.error_description ?? 'The sign-in could not be completed. Go back to the app and start again.'));
      }
      throw e;
    }
  };
  app.get('/:sandbox/auth/interaction/:uid', interaction);
  app.post('/:sandbox/auth/interaction/:uid', interaction);

  app.get('/smart-style.json', async (_request, reply) =>
    reply.headers(PUBLIC_CORS).header('cache-control', 'public, max-age=3600').type('application/json').send(SMART_STYLE),
  );
  app.options('/smart-style.json', async (_request, reply) =>
    reply.code(204).headers(PUBLIC_PREFLIGHT).send(),
  );
}
