/**
 * The web console (`/`, `/console/...`) and its JSON admin API (`/api/...`) (issue 6, docs/architecture.md
 * §3). Pages live under `/console/` because `console` and `api` are reserved sandbox ids, so no
 * console path can shadow a sandbox's `/{sandbox}/...` URLs.
 *
 * Every console response carries a strict CSP without inline script or style, `frame-ancestors
 * 'self'`, `Referrer-Policy: no-referrer` and `Cache-Control: no-store`; no CORS header is ever sent
 * (docs/architecture.md §6). Access control: see guard.ts.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { FhirError, forbidden, unauthorized } from '../errors/errors.js';
import { sendOutcome, toFhirError } from '../http/errors.js';
import type { Services } from '../services.js';
import { registerApi } from './api.js';
import { registerAssets } from './assets.js';
import { ConsoleGuard, CSRF_FIELD, CSRF_HEADER, isWrite } from './guard.js';
import { securityHeaders } from './headers.js';
import { ConsoleOps } from './ops.js';
import { errorPage, registerPages } from './pages.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The CSRF token to embed in this page's forms (set by the console's access hook). */
    consoleCsrf?: string;
  }
}

export async function registerConsole(app: FastifyInstance, opts: { config: Config; services: Services; adminToken: string }): Promise<void> {
  const guard = new ConsoleGuard(opts.config, opts.adminToken, () => {
    const a = app.server.address() as AddressInfo | string | null;
    return a && typeof a === 'object' ? a.port : undefined;
  });
  const ops = new ConsoleOps(opts.services);
  app.decorateRequest('consoleCsrf', undefined);

  await registerAssets(app);

  // ---- JSON admin API ----
  await app.register(async (api) => {
    api.addHook('onRequest', async (request, reply) => {
      securityHeaders(reply);
      const refused = guard.precheck(request, true);
      if (refused) throw refused.status === 401 ? unauthorized(refused.message) : forbidden(refused.message);
      const how = guard.authenticate(request);
      if (!how) throw unauthorized('the console API needs the admin cookie (open the link `smart-sandbox serve` printed) or Authorization: Bearer <admin token>');
      if (how === 'cookie' && isWrite(request.method) && !guard.csrfValid(request, request.headers[CSRF_HEADER]))
        throw forbidden(`a write needs the CSRF token: send the ${'ss_csrf'} cookie's value in the X-CSRF-Token header`);
    });
    api.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      securityHeaders(reply);
      const fe = toFhirError(error);
      if (fe) return sendOutcome(reply, fe);
      request.log.error({ err: error }, 'console API error');
      return sendOutcome(reply, new FhirError(500, [{ severity: 'error', code: 'exception', diagnostics: 'internal server error' }]));
    });
    await registerApi(api, ops);
  });

  // ---- HTML pages ----
  await app.register(async (pages) => {
    pages.addHook('onRequest', async (request, reply) => {
      securityHeaders(reply);
      const refused = guard.precheck(request, false);
      if (refused) return errorPage(reply, refused.status, 'Refused', refused.message);
      const token = (request.query as Record<string, unknown> | undefined)?.token;
      if (request.method === 'GET' && token !== undefined) {
        // First visit from the link `serve` printed: keep the token in a cookie, drop it from the URL.
        if (typeof token !== 'string' || !guard.tokenMatches(token))
          return errorPage(reply, 401, 'Wrong access link', 'The token in this link is not this server’s. Open the console link that `smart-sandbox serve` printed.');
        guard.setSessionCookies(reply);
        return reply.redirect(withoutToken(request.url), 303);
      }
      if (!guard.authenticate(request))
        return errorPage(reply, 401, 'Console access needs the link', 'Open the console with the link that `smart-sandbox serve` printed (it carries this server’s access token).');
      request.consoleCsrf = guard.ensureCsrf(request, reply);
    });
    pages.addHook('preHandler', async (request, reply) => {
      if (!isWrite(request.method)) return;
      const body = request.body as Record<string, unknown> | undefined;
      const submitted = (body && typeof body === 'object' ? body[CSRF_FIELD] : undefined) ?? request.headers[CSRF_HEADER];
      if (guard.authenticate(request) === 'cookie' && !guard.csrfValid(request, submitted))
        return errorPage(reply, 403, 'Form expired', 'This form’s security token is missing or stale. Go back, reload the page and submit again.');
    });
    pages.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      securityHeaders(reply);
      const fe = toFhirError(error);
      if (fe) return errorPage(reply, fe.status, 'That did not work', fe.issues.map((i) => i.diagnostics ?? i.code).join('; '));
      request.log.error({ err: error }, 'console page error');
      return errorPage(reply, 500, 'Internal error', 'Something went wrong on the server; the log has the details.');
    });
    await registerPages(pages, { ops, config: opts.config, services: opts.services });
  });
}

function withoutToken(url: string): string {
  const u = new URL(url, 'http://x');
  u.searchParams.delete('token');
  return u.pathname + (u.searchParams.size ? `?${u.searchParams}` : '');
}
