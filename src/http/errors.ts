/**
 * The app-wide error and not-found handlers: every error leaves as a FHIR OperationOutcome with the
 * right status. Client mistakes caught by fastify itself (body too large, bad media type, malformed
 * JSON) keep their 4xx status; anything else is a server fault: logged, answered with a generic 500,
 * never a stack trace.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LIMITS } from '../config/limits.js';
import { FhirError, outcome } from '../errors/errors.js';
import { DatabaseUnavailable, QueryBudgetExceeded } from '../storage/backend.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function sendOutcome(reply: FastifyReply, err: FhirError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply.code(err.status).type(FHIR_JSON).send(err.outcome);
}

const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'too-costly'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'not-supported'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid'],
  FST_ERR_BAD_URL: [400, 'invalid'],
};

export function toFhirError(error: unknown): FhirError | undefined {
  if (error instanceof FhirError) return error;
  // The database is away (PostgreSQL restarting, network cut): retryable, the node recovers by itself.
  if (error instanceof DatabaseUnavailable)
    return new FhirError(503, [{ severity: 'error', code: 'transient', diagnostics: 'the database is temporarily unavailable; retry shortly' }], { 'retry-after': '2' });
  // A query past its time budget: the request asked for too much (or the server is saturated by such).
  if (error instanceof QueryBudgetExceeded)
    return error.busy
      ? new FhirError(503, [{ severity: 'error', code: 'too-costly', diagnostics: error.message }], { 'retry-after': '1' })
      : new FhirError(400, [{ severity: 'error', code: 'too-costly', diagnostics: `${error.message}: narrow the search (fewer parameters, values or includes, a smaller _count)` }]);
  const e = error as FastifyError;
  const known = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (known) return new FhirError(known[0], [{ severity: 'error', code: known[1], diagnostics: e.message }]);
  if (e instanceof SyntaxError || (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)) {
    return new FhirError(e.statusCode && e.statusCode < 500 ? e.statusCode : 400, [
      { severity: 'error', code: 'invalid', diagnostics: e.message },
    ]);
  }
  return undefined;
}

/**
 * A body over a size limit (413): names the limit that applied — the route's or parser's own limit
 * (form bodies: formBytes; launch registration: its route limit) or the app-wide bodyLimit.
 */
function bodyTooLarge(request: FastifyRequest): FhirError {
  const form = String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  const limit = form ? LIMITS.formBytes : request.routeOptions.bodyLimit;
  const name = form ? 'formBytes' : 'bodyLimit';
  return new FhirError(413, [{ severity: 'error', code: 'too-costly', diagnostics: `request body: exceeds limit ${name} (at most ${limit} bytes)` }]);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if ((error as FastifyError)?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendOutcome(reply, bodyTooLarge(request));
    const fe = toFhirError(error);
    if (fe) return sendOutcome(reply, fe);
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).type(FHIR_JSON).send(outcome('error', 'exception', 'internal server error'));
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    reply.code(404).type(FHIR_JSON).send(outcome('error', 'not-found', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}

/**
 * Fastify's `frameworkErrors` option: errors raised before routing (an undecodable URL such as
 * `/x/data/Patient/%E0%A4%A`, FST_ERR_BAD_URL; a bad Content-Type header) leave as an
 * OperationOutcome too, instead of fastify's own JSON.
 */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const fe = toFhirError(error) ?? new FhirError(400, [{ severity: 'error', code: 'invalid', diagnostics: 'malformed request' }]);
  sendOutcome(reply, fe);
}


/**
 * Fastify's `clientErrorHandler` option: requests that node's HTTP parser refuses before fastify sees
 * them — a request line or headers over node's 16 KiB limit (a long search URL, 431), a request
 * timeout (408), malformed HTTP (400) — leave as an OperationOutcome like every other error, instead
 * of fastify's own JSON. The socket is closed afterwards, as node and fastify do: the stream cannot
 * be trusted any more.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, text] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'too-costly', 'the request line and headers exceed the server limit of 16 KiB: send long searches as POST [base]/[type]/_search with a form body']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'timeout', 'the request was not received in time']
        : [400, 'Bad Request', 'invalid', 'malformed HTTP request'];
  const body = JSON.stringify(outcome('error', code, text));
  if (socket.writable)
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${FHIR_JSON}\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy(err);
}
