/**
 * CORS for browser apps (Fetch Standard §3.2 "CORS protocol"), the one module every CORS-enabled
 * route uses: the FHIR bases (`/{sandbox}/data`, `/{sandbox}/open`, bulk export under `/data`), the
 * launch registration service (`{iss}/_services/smart/Launch`) and the authorization server's token,
 * introspection and revocation endpoints (SMART App Launch 2.2 §"Considerations for browser-based
 * apps": a browser app calls them with fetch).
 *
 * - The request's `Origin` is reflected with `Access-Control-Allow-Credentials: true`, so a FHIR client
 *   that fetches with `credentials: 'include'` (the Medplum client does) is answered; `*` would make
 *   the browser reject every such response.
 * - A preflight's `Access-Control-Request-Headers` are allowed as asked (custom headers such as
 *   `X-Request-Id`; `*` does not cover credentialed requests) and cached for MAX_AGE_SECONDS.
 * - `WWW-Authenticate`, `Location`, `ETag`, `Content-Location`… are exposed to the app's script.
 * - `Vary: Origin` on every answer (it depends on the Origin).
 *
 * Public discovery documents keep `*` without credentials (PUBLIC_CORS).
 *
 * Why reflecting any origin with credentials is safe HERE: none of these routes authenticates by
 * cookie. They take a bearer token, client credentials or nothing, which a foreign page cannot attach
 * on its own. The rule that keeps it safe: never put this module on a route that reads a cookie — the
 * `/authorize` endpoint, the login and consent interactions, logout and the console (`/`, `/api`) send
 * no CORS header at all (their tests check it).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Chromium caps the preflight cache at 2 hours; longer values would be cut to that anyway. */
export const MAX_AGE_SECONDS = 7200;

/** Response headers a browser app's script may read, beyond the CORS-safelisted ones. */
export const EXPOSED_HEADERS = [
  'WWW-Authenticate',
  'Location',
  'ETag',
  'Content-Location',
  'Last-Modified',
  // Bulk Data Access IG 2.0 status polling.
  'X-Progress',
  'Retry-After',
  'Expires',
].join(', ');

/** A serialised origin (`scheme://host[:port]`) or the opaque `null` (RFC 6454 §6.1). */
const ORIGIN = /^(?:null|[a-z][a-z0-9+.-]*:\/\/[A-Za-z0-9.\-[\]:]+)$/i;
/** A comma-separated list of header names (RFC 9110 §5.6.2 token). */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The origin to reflect, or undefined when there is none or it is malformed (then no CORS at all). */
function allowedOrigin(headers: IncomingHttpHeaders): string | undefined {
  const origin = one(headers.origin);
  return origin !== undefined && origin.length <= 2048 && ORIGIN.test(origin) ? origin : undefined;
}

/** CORS headers of an actual (non-preflight) request. */
export function corsHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const origin = allowedOrigin(headers);
  if (origin === undefined) return { vary: 'Origin' };
  return {
    vary: 'Origin',
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': EXPOSED_HEADERS,
  };
}

/** CORS headers of a preflight (`OPTIONS` with `Access-Control-Request-Method`) for routes taking `methods`. */
export function preflightHeaders(headers: IncomingHttpHeaders, methods: string): Record<string, string> {
  const origin = allowedOrigin(headers);
  if (origin === undefined) return { vary: 'Origin' };
  const out: Record<string, string> = {
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': methods,
    'access-control-max-age': String(MAX_AGE_SECONDS),
  };
  const asked = one(headers['access-control-request-headers'])?.trim();
  if (asked && asked.length <= 4096 && HEADER_LIST.test(asked)) out['access-control-allow-headers'] = asked;
  return out;
}

/** Browser-callable fastify routes: `onRequest` puts the CORS headers on every answer, errors included. */
export function corsOnRequest(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.headers(corsHeaders(request.headers));
  done();
}

/** A fastify `OPTIONS` handler answering the preflight of routes that take `methods`. */
export function preflightHandler(methods: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => reply.code(204).headers(preflightHeaders(request.headers, methods)).send();
}

/**
 * Public, credential-free documents (SMART discovery, the style document): `*` for anyone, no
 * credentials (Fetch Standard: `*` is refused for credentialed requests, which these never need).
 */
export const PUBLIC_CORS: Readonly<Record<string, string>> = { 'access-control-allow-origin': '*' };

/** The preflight of a public GET document. */
export const PUBLIC_PREFLIGHT: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET',
  'access-control-allow-headers': 'accept, authorization, content-type',
  'access-control-max-age': String(MAX_AGE_SECONDS),
};

/** For answers written outside fastify (the authorization server runs on the raw response). */
export function setCorsHeaders(res: ServerResponse, headers: Record<string, string>): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
}
